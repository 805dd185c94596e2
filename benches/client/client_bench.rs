//! Copied into the generated chat crate as `examples/client_bench.rs` by `benches/client/run.sh` and run in release:
//! a cached read from a live list against the same read over HTTP, and the time from a REST write (by another
//! client) to the change appearing in a live list. Prints a Markdown table.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chat_api::client::{Client, Query};
use chat_api::models::{Message, MessageCreate, MessageFilter, MessageOrderBy, RoomCreate, UserCreate};
use chat_api::query::{OrderedFilter, SortOrder};

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn token(binary: &str, secret: &str, sub: &str, roles: &[&str]) -> String {
    let mut command = Command::new(binary);
    command.env("JWT_SECRET", secret).args(["token", "--sub", sub]);
    for role in roles {
        command.args(["--role", role]);
    }
    String::from_utf8(command.output().unwrap().stdout).unwrap().trim().to_owned()
}

#[tokio::main]
async fn main() {
    let binary = std::env::var("SSOT_SERVER_BIN").expect("SSOT_SERVER_BIN");
    let reads: usize = std::env::var("READS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let writes: usize = std::env::var("WRITES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let secret = "bench-secret";
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("ssot-client-bench-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Command::new(&binary)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", format!("sqlite://{}/chat.db", dir.display()))
        .env("JWT_SECRET", secret)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line).unwrap();
    let base = format!("http://127.0.0.1:{port}");

    let admin = Client::builder(&base).token(token(&binary, secret, &uuid::Uuid::new_v4().to_string(), &["admin"])).build().await.unwrap();
    let user = admin.users().create(&UserCreate { email: "bench@example.com".into(), name: "bench".into(), password_hash: "x".into() }).await.unwrap();
    let user_token = token(&binary, secret, &user.id.to_string(), &[]);
    let writer = Client::builder(&base).token(user_token.clone()).build().await.unwrap();
    let room = writer.rooms().create(&RoomCreate { title: "bench".into() }).await.unwrap();
    for i in 0..200 {
        writer.messages().create(&MessageCreate { room_id: room.id, reply_to_id: None, text: format!("seed {i}"), edited_at: None }).await.unwrap();
    }
    let query = Query::new()
        .filter(MessageFilter { room_id: Some(OrderedFilter::equals(room.id)), ..Default::default() })
        .order_by(MessageOrderBy::CreatedAt(SortOrder::Desc))
        .take(20);
    let reader = Client::builder(&base).token(user_token.clone()).realtime(true).build().await.unwrap();
    let live = reader.messages().live(query.clone()).await.unwrap();
    let http_only = Client::builder(&base).token(user_token).build().await.unwrap();

    // Reads: the same page from the live list (the hybrid client's cache) and over HTTP.
    let mut cached = Vec::with_capacity(reads);
    let mut over_http = Vec::with_capacity(reads);
    for _ in 0..50 {
        reader.messages().list(query.clone()).await.unwrap();
        http_only.messages().list(query.clone()).await.unwrap();
    }
    for _ in 0..reads {
        let t = Instant::now();
        let page = reader.messages().list(query.clone()).await.unwrap();
        cached.push(t.elapsed());
        assert_eq!(page.items.len(), 20);
        let t = Instant::now();
        let page = http_only.messages().list(query.clone()).await.unwrap();
        over_http.push(t.elapsed());
        assert_eq!(page.items.len(), 20);
    }

    // Write-to-live latency: another client writes over REST; time until the reader's live list shows it.
    let mut latency = Vec::with_capacity(writes);
    for i in 0..writes {
        let t = Instant::now();
        let written = writer.http().create::<Message>("/api/messages", &MessageCreate { room_id: room.id, reply_to_id: None, text: format!("w {i}"), edited_at: None }).await.unwrap();
        let seq = written.seq.unwrap();
        let snapshot = live.reflecting(seq, Duration::from_secs(5)).await.unwrap();
        latency.push(t.elapsed());
        assert_eq!(snapshot.items[0].id, written.record.unwrap().id);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = server.kill();
    let _ = std::fs::remove_dir_all(&dir);

    let us = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e6);
    let (c50, c99) = (percentile(&mut cached, 0.5), percentile(&mut cached, 0.99));
    let (h50, h99) = (percentile(&mut over_http, 0.5), percentile(&mut over_http, 0.99));
    let (l50, l99) = (percentile(&mut latency, 0.5), percentile(&mut latency, 0.99));
    println!("| measurement | samples | p50 (µs) | p99 (µs) |");
    println!("|---|---:|---:|---:|");
    println!("| cached read (live list, 20 rows) | {reads} | {} | {} |", us(c50), us(c99));
    println!("| the same read over HTTP | {reads} | {} | {} |", us(h50), us(h99));
    println!("| REST write -> another client's live list | {writes} | {} | {} |", us(l50), us(l99));
    println!();
    println!("HTTP / cached read, p50: {:.0}x", h50.as_secs_f64() / c50.as_secs_f64());
}
