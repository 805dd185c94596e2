//! End-to-end tests of what operators see of the generated server (`docs/operations.md`): liveness and readiness
//! (`/ready` turns 503 while the LISTEN connection is down and when a graceful shutdown starts, before any
//! connection is closed); JSON logs (`LOG_FORMAT=json`); `/metrics` after a scripted session, parsed as the Prometheus text format. Runs with libtest-mimic (`tests/common/scenarios.rs`), each test with a server of its own.

mod common;
#[allow(dead_code)]
#[path = "common/scenarios.rs"]
mod scenarios;
#[path = "common/server.rs"]
mod server_harness;
#[path = "common/ws.rs"]
mod ws;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use openmetrics_parser::{PrometheusType, PrometheusValue};
use serde_json::{json, Value};

use scenarios::Backend;
use server_harness::{new_room, new_user, Resp, Server};
use ws::{Auth, Incoming, Ws};

fn main() {
    let mut trials = vec![scenarios::test(
        Backend::Postgres,
        "ready_while_listen_is_down",
        ready_while_listen_is_down,
    )];
    for backend in [Backend::Sqlite, Backend::Postgres] {
        trials.push(scenarios::test(
            backend,
            "ready_turns_503_before_shutdown_closes",
            move || ready_turns_503_before_shutdown_closes(backend),
        ));
        trials.push(scenarios::test(
            backend,
            "metrics_after_a_scripted_session",
            move || metrics_after_a_scripted_session(backend),
        ));
    }
    trials.push(scenarios::test(
        Backend::Sqlite,
        "json_logs_parse_line_by_line",
        json_logs_parse_line_by_line,
    ));
    trials.push(libtest_mimic::Trial::test(
        "grafana_dashboard_shows_only_exposed_metrics",
        grafana_dashboard_shows_only_exposed_metrics,
    ));
    trials.push(libtest_mimic::Trial::test(
        "docs_name_every_setting_and_metric",
        docs_name_every_setting_and_metric,
    ));
    scenarios::main(trials, &[]);
}

fn start(backend: Backend, env: &[(&str, &str)]) -> Server {
    match backend {
        Backend::Sqlite => Server::start_sqlite_with(env),
        Backend::Postgres => Server::start_postgres_with(env),
    }
}

/// Polls `/ready` until its status is `status`; its body then.
fn ready_becomes(s: &Server, status: u16, wait: Duration) -> Value {
    let deadline = Instant::now() + wait;
    loop {
        let r: Resp = s.get("/ready").send();
        if r.status == status {
            return r.expect_json(status);
        }
        assert!(
            Instant::now() < deadline,
            "/ready never answered {status}: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The LISTEN connection is killed (`pg_terminate_backend`) while the database refuses new connections: the
/// requests' pool still reaches the database, but the feed cannot listen, so `/ready` is 503 with
/// `"events": "catching_up"` until it can again.
fn ready_while_listen_is_down() -> Result<(), Failed> {
    let server = start(Backend::Postgres, &[]);
    scenarios::run_logged(&server, || {
        let server_harness::Backend::Postgres(db) = &server.backend else {
            unreachable!("a PostgreSQL server")
        };
        ready_becomes(&server, 200, Duration::from_secs(10));
        let pg = |sql: &str| common::pg::psql("test", sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        pg(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false"));
        let killed = pg(&format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{db}' AND query ILIKE 'LISTEN%'"
        ));
        assert_eq!(killed, "1", "one LISTEN connection to kill");
        let down = ready_becomes(&server, 503, Duration::from_secs(10));
        assert_eq!(
            down,
            json!({ "status": "unavailable", "database": "ok", "migrations": "ok", "events": "catching_up" })
        );
        // Still down a while later: nothing but the LISTEN connection coming back makes it ready.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(server.get("/ready").send().status, 503);
        assert_eq!(
            server.get("/health").send().expect_json(200),
            json!({ "status": "ok" })
        );
        pg(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"));
        ready_becomes(&server, 200, Duration::from_secs(15));
    })
}

/// SIGTERM with `SHUTDOWN_DRAIN_MS`: `/ready` answers 503 at once while REST and open WebSocket connections are
/// still served; only after the drain are sockets closed (1001) and the process exits.
fn ready_turns_503_before_shutdown_closes(backend: Backend) -> Result<(), Failed> {
    const DRAIN: Duration = Duration::from_millis(1500);
    let mut server = start(backend, &[("SHUTDOWN_DRAIN_MS", "1500")]);
    let admin = server.admin_token();
    let mut ws = Ws::connect(&server, &admin);
    ws.subscribe("Room:list", None);
    ready_becomes(&server, 200, Duration::from_secs(10));
    let terminated = Instant::now();
    server.terminate();
    let draining = ready_becomes(&server, 503, Duration::from_secs(5));
    assert_eq!(draining["status"], "shutting_down", "{draining}");
    assert!(
        terminated.elapsed() < DRAIN,
        "/ready turned 503 only after the drain"
    );
    // Everything else is still served meanwhile: liveness, REST, the open socket.
    assert_eq!(
        server.get("/health").send().expect_json(200),
        json!({ "status": "ok" })
    );
    server
        .get("/api/rooms")
        .auth(&admin)
        .send()
        .expect_json(200);
    ws.send(json!({ "type": "ping" }));
    assert_eq!(ws.reply(), json!({ "type": "pong" }));
    // Then the socket is closed with 1001, not before the drain is over.
    let closed = match ws.next(Duration::from_secs(10)) {
        Incoming::Closed(frame) => frame,
        Incoming::Message(m) => panic!("unexpected message while draining: {m}"),
        Incoming::Timeout => panic!("the socket was not closed after the drain"),
    };
    assert!(
        terminated.elapsed() >= DRAIN,
        "the socket was closed {:?} after SIGTERM, before the drain of {DRAIN:?}",
        terminated.elapsed()
    );
    assert_eq!(closed.map(|(code, _)| code), Some(1001));
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "exited {status:?}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics

/// One scrape of `/metrics`, parsed whole.
struct Scrape(openmetrics_parser::MetricsExposition<PrometheusType, PrometheusValue>);

/// The address `METRICS_ADDR=127.0.0.1:0` was bound to, from the server's log.
fn metrics_addr(s: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = s.log();
        let found = log
            .lines()
            .filter(|line| line.contains("serving metrics"))
            .find_map(|line| {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
            });
        if let Some(addr) = found {
            return addr.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no `serving metrics` line in the log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Scrape {
    fn take(addr: &str) -> Scrape {
        let mut response = ureq::get(&format!("http://{addr}/metrics"))
            .call()
            .unwrap_or_else(|e| panic!("scraping {addr}: {e}"));
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let text = response.body_mut().read_to_string().unwrap();
        let parsed = openmetrics_parser::prometheus::parse_prometheus(&text)
            .unwrap_or_else(|e| panic!("not the Prometheus text format ({e:?}):\n{text}"));
        Scrape(parsed)
    }

    /// The value of the series `name` with exactly `labels` (a histogram's: its count); `None` when there is none.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let family = self.0.families.get(name)?;
        if family.get_label_names().len() != labels.len() {
            return None;
        }
        let sample = family.iter_samples().find(|sample| {
            let set = sample.get_labelset().unwrap();
            labels
                .iter()
                .all(|(k, v)| set.get_label_value(k) == Some(*v))
        })?;
        Some(match &sample.value {
            PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Histogram(h) => h.count.unwrap_or_default() as f64,
            PrometheusValue::Summary(_) => panic!("{name} is a summary"),
        })
    }

    /// Like `get`, failing when the series is missing.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no series {name}{labels:?} in\n{}", self.0))
    }

    /// Every value of `label` in the scrape.
    fn label_values(&self, label: &str) -> Vec<String> {
        self.0
            .families
            .values()
            .flat_map(|family| family.iter_samples())
            .filter_map(|sample| {
                Some(
                    sample
                        .get_labelset()
                        .ok()?
                        .get_label_value(label)?
                        .to_owned(),
                )
            })
            .collect()
    }
}

/// Scrapes until `done` holds for a scrape (the feed and the sockets' tasks run on their own time).
fn scrape_until(addr: &str, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let scrape = Scrape::take(addr);
        if done(&scrape) {
            return scrape;
        }
        assert!(Instant::now() < deadline, "never {what}:\n{}", scrape.0);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// REST calls, two WebSocket connections, a refused subscription, a refused token, then a reader that never reads
/// and is cut off: each counter is exactly what the session did.
fn metrics_after_a_scripted_session(backend: Backend) -> Result<(), Failed> {
    const CUT_OFF: &str = "fell too far behind";
    let s = start(
        backend,
        &[
            ("METRICS_ADDR", "127.0.0.1:0"),
            ("WS_SEND_QUEUE", "8"),
            ("WS_MAX_SUBSCRIPTIONS", "2"),
            // The poll's first tick reads the outbox once at start; no other tick during the test.
            ("FEED_POLL_INTERVAL_MS", "600000"),
        ],
    );
    scenarios::run_logged(&s, || {
        let m = metrics_addr(&s);
        let admin = s.admin_token();
        let owner = new_user(&s, &admin, "metrics");
        let room = new_room(&s, &owner, "metrics");
        s.get(&format!("/api/rooms/{room}"))
            .auth(&owner.token)
            .send()
            .expect_json(200);
        s.get("/api/rooms/999999999")
            .auth(&owner.token)
            .send()
            .expect_json(404);
        s.get("/no/such/route").send().expect_json(404);
        let refused = s
            .post("/api/rooms")
            .auth(&owner.token)
            .json(json!({}))
            .send();
        assert!((400..500).contains(&refused.status), "{refused:?}");
        let refused_status = refused.status.to_string();
        let dispatched =
            |seq: i64| move |m: &Scrape| m.get("feed_dispatched_seq", &[]) == Some(seq as f64);
        scrape_until(&m, "dispatched the writes", dispatched(s.last_seq()));

        let open = |token: &str| {
            let mut ws = Ws::open(&s, Auth::Header(token));
            assert_eq!(ws.recv()["type"], "ready");
            ws
        };
        let mut a = open(&owner.token);
        a.subscribe("Room:list", None);
        let mut b = open(&owner.token);
        b.subscribe("Room:list", None);
        b.subscribe("User:list", None);
        // WS_MAX_SUBSCRIPTIONS=2: refused, not counted.
        b.send(json!({ "type": "subscribe", "channel": "Message:list" }));
        assert_eq!(b.reply()["code"], "too_many_subscriptions");
        let mut bad = Ws::open(&s, Auth::Header("not-a-token"));
        assert_eq!(bad.expect_close().0, 4401);
        for i in 0..2 {
            new_room(&s, &owner, &format!("delivered {i}"));
            a.update();
            b.update();
        }

        let first = scrape_until(&m, "dispatched the rooms", dispatched(s.last_seq()));
        let requests = |route: &str, method: &str, status: &str| {
            first.value(
                "http_requests_total",
                &[("route", route), ("method", method), ("status", status)],
            )
        };
        assert_eq!(requests("/api/users", "POST", "201"), 1.0);
        assert_eq!(requests("/api/rooms", "POST", "201"), 3.0);
        assert_eq!(requests("/api/rooms", "POST", &refused_status), 1.0);
        assert_eq!(requests("/api/rooms/{id}", "GET", "200"), 1.0);
        assert_eq!(requests("/api/rooms/{id}", "GET", "404"), 1.0);
        assert_eq!(requests("unmatched", "GET", "404"), 1.0);
        assert_eq!(requests("/ws", "GET", "101"), 3.0);
        let durations = |route: &str, method: &str| {
            first.value(
                "http_request_duration_seconds",
                &[("route", route), ("method", method)],
            )
        };
        assert_eq!(durations("/api/rooms", "POST"), 4.0);
        assert_eq!(durations("/api/rooms/{id}", "GET"), 2.0);
        // Raw paths are never labels.
        let routes = first.label_values("route");
        assert!(
            routes
                .iter()
                .all(|route| !route.contains("999999999") && !route.contains("no/such")),
            "a raw path became a label: {routes:?}"
        );
        assert_eq!(first.value("ws_connections", &[]), 2.0);
        assert_eq!(first.value("ws_subscriptions", &[("model", "Room")]), 2.0);
        assert_eq!(first.value("ws_subscriptions", &[("model", "User")]), 1.0);
        assert_eq!(
            first.value("ws_subscriptions", &[("model", "Message")]),
            0.0
        );
        assert_eq!(first.value("ws_deliveries_total", &[]), 4.0);
        assert_eq!(first.value("ws_closes_total", &[("code", "4401")]), 1.0);
        let high_water = first.value("ws_send_queue_high_water", &[]);
        assert!((1.0..=2.0).contains(&high_water), "high water {high_water}");
        let head = s.last_seq() as f64;
        assert_eq!(first.value("outbox_head_seq", &[]), head);
        assert_eq!(first.value("feed_dispatched_seq", &[]), head);
        assert_eq!(first.value("feed_lag_events", &[]), 0.0);
        assert_eq!(first.value("feed_listen_reconnects_total", &[]), 0.0);
        let catch_up_reads = first.value("feed_catch_up_reads_total", &[]);
        if backend == Backend::Sqlite {
            // One at start (the poll's first tick); local writes travel in order on the in-process bus.
            assert_eq!(catch_up_reads, 1.0);
        } else {
            // NOTIFY of a local write may arrive before the bus delivers it: then the outbox is read too.
            assert!(catch_up_reads >= 1.0, "{catch_up_reads}");
        }
        let migrations: f64 = s
            .sql("SELECT count(*) FROM _ssot_migrations")
            .parse()
            .unwrap();
        assert_eq!(first.value("migrations_applied", &[]), migrations);
        if backend == Backend::Postgres {
            assert_eq!(first.value("db_pool_max_connections", &[]), 16.0);
            let open = first.value("db_pool_connections", &[]);
            let in_use = first.value("db_pool_connections_in_use", &[]);
            assert!(
                open >= 1.0 && in_use <= open,
                "pool: {open} open, {in_use} in use"
            );
        } else {
            assert_eq!(
                first.get("db_pool_connections", &[]),
                None,
                "SQLite has no pool"
            );
        }

        // A reader that subscribes, then never reads; its small receive buffer makes the kernel hold little. Its
        // queue of WS_SEND_QUEUE=8 overflows once the socket's buffers are full: it is cut off with 4429.
        let mut slow = Ws::open_with(&s, Auth::Header(&owner.token), None, Some(4096));
        assert_eq!(slow.recv()["type"], "ready");
        slow.subscribe("Message:list", None);
        let text = "y".repeat(2000);
        let mut written = 0;
        while !s.log().contains(CUT_OFF) {
            s.post("/api/messages")
                .auth(&owner.token)
                .json(json!({ "roomId": room, "text": text }))
                .send()
                .expect_json(201);
            written += 1;
            assert!(written < 20_000, "the slow reader was never cut off");
        }
        let second = scrape_until(&m, "counted the cut-off", |m| {
            m.get("ws_closes_total", &[("code", "4429")]) == Some(1.0)
                && m.get("feed_dispatched_seq", &[]) == Some(s.last_seq() as f64)
        });
        assert_eq!(
            second.value(
                "http_requests_total",
                &[
                    ("route", "/api/messages"),
                    ("method", "POST"),
                    ("status", "201")
                ]
            ),
            f64::from(written)
        );
        assert_eq!(second.value("ws_send_queue_high_water", &[]), 8.0);
        assert_eq!(second.value("ws_connections", &[]), 3.0 - 1.0);
        assert_eq!(
            second.value("ws_subscriptions", &[("model", "Message")]),
            0.0
        );
        let delivered = second.value("ws_deliveries_total", &[]) - 4.0;
        assert!(
            (8.0..f64::from(written)).contains(&delivered),
            "{delivered} deliveries to the slow reader of {written} messages"
        );
        assert_eq!(second.value("ws_closes_total", &[("code", "4401")]), 1.0);
        {
            // Every write went through the group commit; writes one after the other each got a transaction of
            // their own, and a transaction holds at least one write.
            let prefix = match backend {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            };
            let writes = second.value(&format!("{prefix}_writes_total"), &[]);
            let batches = second.value(&format!("{prefix}_write_batches_total"), &[]);
            assert!(writes >= f64::from(written), "{writes} writes of {written}");
            assert!(
                (1.0..=writes).contains(&batches),
                "{batches} batches of {writes}"
            );
        }
        // Every metric the server declares was in this scrape (SQLite has no pool; each backend its own group
        // commit's counts).
        for name in metric_names() {
            let only_postgres = name.starts_with("db_pool_") || name.starts_with("postgres_");
            let only_sqlite = name.starts_with("sqlite_");
            assert_eq!(
                second.0.families.contains_key(&name),
                match backend {
                    Backend::Postgres => !only_sqlite,
                    Backend::Sqlite => !only_postgres,
                },
                "{name}"
            );
        }
        drop((a, b));
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Logs

/// `LOG_FORMAT=json`: every line of standard error is one JSON object; a request's lines (tower_http's, and the
/// panic of a hook that ends in a 500) carry its request id and route template; the id comes back in
/// `x-request-id`, the client's own when it sent a usable one.
fn json_logs_parse_line_by_line() -> Result<(), Failed> {
    let s = start(
        Backend::Sqlite,
        &[
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info,tower_http=debug"),
        ],
    );
    let admin = s.admin_token();
    let owner = new_user(&s, &admin, "json-logs");
    let room = new_room(&s, &owner, "json logs");
    let read = s
        .get(&format!("/api/rooms/{room}"))
        .auth(&owner.token)
        .header("x-request-id", "test-read-1")
        .send();
    read.expect_json(200);
    assert_eq!(read.header("x-request-id"), Some("test-read-1"));
    let panicked = s
        .post("/api/rooms")
        .auth(&owner.token)
        .json(json!({ "title": "hook: panic" }))
        .send();
    panicked.expect_json(500);
    let panic_id = panicked
        .header("x-request-id")
        .expect("a request id is made when none is sent")
        .to_owned();
    // A client's id that could forge log structure is replaced.
    let forged = s.get("/health").header("x-request-id", "a\"b").send();
    assert_ne!(forged.header("x-request-id"), Some("a\"b"));

    // The request's own span is the outermost (tower_http's is inside it).
    let span = |line: &Value| line["spans"][0].clone();
    let finished = |lines: &[Value], id: &str| {
        lines.iter().any(|line| {
            line["fields"]["message"] == "finished processing request"
                && span(line)["request_id"] == id
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let log = s.log();
        let lines: Vec<Value> = log
            .lines()
            .map(|line| {
                let value: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line:?}"));
                assert!(value.is_object(), "not an object: {line}");
                value
            })
            .collect();
        // The panic unwinds through tower_http's layer: no `finished` line for it, the panic's own instead.
        if finished(&lines, "test-read-1")
            && lines.iter().any(|l| l["fields"]["message"] == "panicked")
        {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "the requests' lines are missing:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let read_line = lines
        .iter()
        .find(|line| span(line)["request_id"] == "test-read-1")
        .unwrap();
    assert_eq!(span(read_line)["route"], "/api/rooms/{id}", "{read_line}");
    assert_eq!(span(read_line)["method"], "GET", "{read_line}");
    let panic_line = lines
        .iter()
        .find(|line| line["fields"]["message"] == "panicked")
        .unwrap_or_else(|| panic!("no panic line in {lines:#?}"));
    assert_eq!(panic_line["level"], "ERROR");
    assert_eq!(
        span(panic_line)["request_id"],
        panic_id.as_str(),
        "{panic_line}"
    );
    assert_eq!(span(panic_line)["route"], "/api/rooms", "{panic_line}");
    assert!(
        panic_line["fields"]["cause"]
            .as_str()
            .is_some_and(|c| c.contains("the room hook panics")),
        "{panic_line}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Docs

fn runtime_source(path: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("runtime/src/server")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The metric names of `metrics::ALL`, read from the runtime's source: `pub const NAME: &str = "name";` for each
/// constant that `ALL` lists.
fn metric_names() -> Vec<String> {
    let source = runtime_source("metrics.rs");
    let all = &source[source.find("pub const ALL").expect("metrics::ALL")..];
    let all = &all[..all.find("];").unwrap()];
    let names: Vec<String> = source
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("pub const ")?;
            let (constant, value) = rest.split_once(": &str = ")?;
            all.contains(&format!("({constant},"))
                .then(|| value.trim_end_matches(';').trim_matches('"').to_owned())
        })
        .collect();
    assert!(names.len() >= 16, "metrics::ALL read as {names:?}");
    names
}

/// The environment variables `config.rs` reads (`var("NAME"`, `millis("NAME"`, `optional("NAME"`, ...).
fn setting_names() -> Vec<String> {
    let source = runtime_source("config.rs");
    let names: BTreeSet<String> = source
        .split("(\"")
        .skip(1)
        .filter_map(|rest| {
            let name = &rest[..rest.find('"')?];
            (name.len() > 2
                && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                && name != "CARGO_PKG_NAME")
                .then(|| name.to_owned())
        })
        .collect();
    assert!(names.len() >= 20, "config.rs read as {names:?}");
    names.into_iter().collect()
}

/// docs/operations.md names every setting and every metric; the generated README every setting.
fn docs_name_every_setting_and_metric() -> Result<(), Failed> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let operations = std::fs::read_to_string(root.join("docs/operations.md")).unwrap();
    let readme = std::fs::read_to_string(root.join("templates/README.md.jinja")).unwrap();
    for name in setting_names().iter().chain(["RUST_LOG".to_owned()].iter()) {
        let quoted = format!("`{name}`");
        assert!(
            operations.contains(&quoted),
            "docs/operations.md lacks the setting {name}"
        );
        assert!(
            readme.contains(&quoted),
            "templates/README.md.jinja lacks the setting {name}"
        );
    }
    for name in metric_names() {
        assert!(
            operations.contains(&format!("| `{name}` |")),
            "docs/operations.md has no row for the metric {name}"
        );
    }
    Ok(())
}

/// The generated `ops/grafana-dashboard.json` is JSON, and its queries name only metrics the server exposes (a
/// histogram by its `_bucket`, `_sum` or `_count` series), every one of them at least once.
fn grafana_dashboard_shows_only_exposed_metrics() -> Result<(), Failed> {
    let generated = common::generate_example("chat");
    let text = &generated.files["ops/grafana-dashboard.json"];
    let dashboard: Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}\n{text}"))?;
    assert_eq!(dashboard["title"], "chat-api (ssot-gen)");
    let exposed = metric_names();
    let mut shown = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("an expr");
            // Identifiers with an underscore are metric names, but for PromQL's own.
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !word.contains('_') || ["histogram_quantile", "__rate_interval"].contains(&word)
                {
                    continue;
                }
                let name = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| word.strip_suffix(suffix))
                    .filter(|base| exposed.iter().any(|e| e == base))
                    .unwrap_or(word);
                assert!(
                    exposed.iter().any(|e| e == name),
                    "{name} in {expr:?} is not a metric of the server"
                );
                shown.insert(name.to_owned());
            }
        }
    }
    let missing: Vec<&String> = exposed
        .iter()
        .filter(|name| !shown.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard does not show {missing:?}"
    );
    Ok(())
}
