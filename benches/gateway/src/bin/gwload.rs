//! The load generator of the gateway benchmark (run.sh beside Cargo.toml; method in docs/benchmarks.md).
//!
//! Against one server (the generated one or the hand-written baseline; both speak the same protocol as far as
//! this uses it), or K instances of the generated server on one PostgreSQL database (`--ws`, `--http` and
//! `--server-pid` take comma-separated lists, one entry per instance: connection i goes to instance i mod K, and
//! the writes go to the instances round-robin; CPU and RSS are summed over the instances), in one process so that
//! send and receive times come from the same clock:
//!
//! 1. memory: the server's RSS before and after opening `--conns` connections, each with the `Authorization`
//!    header, waiting for `ready`, subscribing to `Room:list` and waiting for `subscribed`;
//! 2. latency: one writer POSTs rooms at `--rate` per second for `--latency-secs` (open loop: a fixed schedule,
//!    each write on its own task), recording the send time of each write under its `Event-Seq`; every connection
//!    records the receive time of each `update` by `seq`; latency = receive - send;
//! 3. saturation: `--writers` writers POST as fast as a window allows: at most `--window` writes not yet received
//!    by every connection, so that no send queue overflows; for `--sat-secs` after `--sat-warmup` seconds,
//!    counts the delivered updates and the CPU time of the server, of this process and of everything else; and
//!    the latency of every `--sat-sample`-th write (by `Event-Seq`: seq mod k = 0) sent during those seconds,
//!    from its POST to each receipt (sampled so that keeping the times costs this process little).
//!    `--sat-secs 0` skips the phase (the rate sweeps of run.sh).
//!
//! With `--db-name`, the CPU time of the PostgreSQL backends serving that database (processes whose title names
//! it) is counted apart from the others (`db`).
//!
//! Prints `RESULT key=value ...` on stdout (progress on stderr). CPU times come from /proc (clock ticks of 10 ms:
//! `getconf CLK_TCK` = 100, which run.sh checks). All loops are bounded by counts or deadlines.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

const HZ: f64 = 100.0;

#[derive(Clone, Debug)]
struct Args {
    ws: Vec<String>,
    http: Vec<String>,
    token: String,
    server_pids: Vec<u32>,
    db_name: Option<String>,
    sat_sample: i64,
    conns: usize,
    rate: f64,
    latency_secs: f64,
    sat_secs: f64,
    sat_warmup: f64,
    window: usize,
    writers: usize,
    settle: f64,
    threads: usize,
    handshakes: usize,
    max_http: usize,
    label: String,
}

fn parse_args() -> Args {
    let mut args = Args {
        ws: Vec::new(),
        http: Vec::new(),
        token: String::new(),
        server_pids: Vec::new(),
        db_name: None,
        sat_sample: 10,
        conns: 1000,
        rate: 20.0,
        latency_secs: 15.0,
        sat_secs: 10.0,
        sat_warmup: 2.0,
        window: 32,
        writers: 4,
        settle: 3.0,
        threads: 1,
        handshakes: 128,
        max_http: 128,
        label: "run".to_owned(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let num = || {
            value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("{flag} {value:?}: not a number"))
        };
        match flag.as_str() {
            "--ws" => args.ws = value.split(',').map(str::to_owned).collect(),
            "--http" => args.http = value.split(',').map(str::to_owned).collect(),
            "--token" => args.token = value.clone(),
            "--server-pid" => {
                args.server_pids = value
                    .split(',')
                    .map(|p| p.parse().unwrap_or_else(|_| panic!("--server-pid {p:?}")))
                    .collect()
            }
            "--db-name" => args.db_name = Some(value.clone()).filter(|v| !v.is_empty()),
            "--sat-sample" => args.sat_sample = (num() as i64).max(1),
            "--conns" => args.conns = num() as usize,
            "--rate" => args.rate = num(),
            "--latency-secs" => args.latency_secs = num(),
            "--sat-secs" => args.sat_secs = num(),
            "--sat-warmup" => args.sat_warmup = num(),
            "--window" => args.window = num() as usize,
            "--writers" => args.writers = num() as usize,
            "--settle" => args.settle = num(),
            "--threads" => args.threads = num() as usize,
            "--handshakes" => args.handshakes = num() as usize,
            "--max-http" => args.max_http = num() as usize,
            "--label" => args.label = value.clone(),
            _ => panic!("unknown flag {flag}"),
        }
    }
    assert!(
        !args.ws.is_empty() && !args.http.is_empty() && !args.server_pids.is_empty(),
        "--ws, --http and --server-pid are required"
    );
    assert!(
        args.ws.len() == args.http.len() && args.ws.len() == args.server_pids.len(),
        "--ws, --http and --server-pid need one entry per instance"
    );
    args
}

// ---- /proc ---------------------------------------------------------------------------------------------------

/// utime + stime of a process, in ticks.
fn proc_ticks(pid: &str) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest.split(' ').map(|x| x.parse().unwrap_or(0)).collect();
    // Fields 14 and 15 of stat, 12th and 13th after the comm.
    (
        f.get(11).copied().unwrap_or(0),
        f.get(12).copied().unwrap_or(0),
    )
}

/// Summed over the instances.
fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter().map(|&pid| rss_kib_one(pid)).sum()
}

fn rss_kib_one(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User + nice ticks of every CPU (see benches/server/run.sh: user time is charged to whoever ran, so the
/// difference to our two processes' user time is what the others used).
fn all_user_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or("");
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    f.first().copied().unwrap_or(0) + f.get(1).copied().unwrap_or(0)
}

/// utime and stime, per pid, of the PostgreSQL backends serving `db` (their process title, in cmdline, is
/// `postgres: <user> <db> <client> <state>`).
fn db_backend_ticks(db: &str) -> HashMap<u32, (u64, u64)> {
    let mut out = HashMap::new();
    let needle = format!(" {db} ");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.starts_with("postgres: ") && cmdline.contains(&needle) {
            out.insert(pid, proc_ticks(&pid.to_string()));
        }
    }
    out
}

#[derive(Clone)]
struct Cpu {
    at: Instant,
    /// Summed over the instances.
    server: (u64, u64),
    me: (u64, u64),
    db: HashMap<u32, (u64, u64)>,
    all_user: u64,
}

/// CPU used between two `Cpu`s: cores (wall-clock average) and ticks.
struct Used {
    server: f64,
    me: f64,
    db: f64,
    others: f64,
    server_ticks: u64,
    me_ticks: u64,
    db_ticks: u64,
}

impl Cpu {
    fn now(args: &Args) -> Cpu {
        let server = args
            .server_pids
            .iter()
            .map(|pid| proc_ticks(&pid.to_string()))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        Cpu {
            at: Instant::now(),
            server,
            me: proc_ticks("self"),
            db: args
                .db_name
                .as_deref()
                .map(db_backend_ticks)
                .unwrap_or_default(),
            all_user: all_user_ticks(),
        }
    }

    /// Since `before`: the servers, this process, the database's backends (those alive now; one that started
    /// since counts whole), and the others (user time only: everything else).
    fn used_since(&self, before: &Cpu) -> Used {
        let secs = self.at.duration_since(before.at).as_secs_f64();
        let server = (self.server.0 + self.server.1) - (before.server.0 + before.server.1);
        let me = (self.me.0 + self.me.1) - (before.me.0 + before.me.1);
        let (mut db, mut db_user) = (0, 0);
        for (pid, now) in &self.db {
            let then = before.db.get(pid).copied().unwrap_or((0, 0));
            db += (now.0 + now.1).saturating_sub(then.0 + then.1);
            db_user += now.0.saturating_sub(then.0);
        }
        let users = self.all_user - before.all_user;
        let ours_user = (self.server.0 - before.server.0) + (self.me.0 - before.me.0) + db_user;
        let others = users.saturating_sub(ours_user);
        let c = |ticks: u64| ticks as f64 / HZ / secs;
        Used {
            server: c(server),
            me: c(me),
            db: c(db),
            others: c(others),
            server_ticks: server,
            me_ticks: me,
            db_ticks: db,
        }
    }
}

// ---- what the connections record ----------------------------------------------------------------------------

#[derive(Default)]
struct Book {
    /// Receive times of updates while recording latency.
    recording: bool,
    receipts: Vec<(i64, Instant)>,
    /// Per seq, how many connections received it, while counting for the saturation window.
    counting: bool,
    counts: HashMap<i64, usize>,
    /// Receive times of every `sample`-th seq, during the saturation phase.
    sampling: bool,
    sample: i64,
    sampled: Vec<(i64, Instant)>,
}

struct Shared {
    book: Mutex<Book>,
    /// Updates received, ever.
    delivered: AtomicU64,
    live: AtomicUsize,
    subscribed: AtomicUsize,
    failed: AtomicUsize,
    /// Connections the server closed, by close code (text).
    closes: Mutex<HashMap<String, usize>>,
    /// Released by the receivers when a write reached every live connection (saturation).
    window: tokio::sync::Semaphore,
    stop: AtomicBool,
}

#[derive(serde::Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    seq: Option<i64>,
}

impl Shared {
    fn on_update(&self, seq: i64, at: Instant) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let mut book = self.book.lock().unwrap();
        if book.recording {
            book.receipts.push((seq, at));
        }
        if book.sampling && seq % book.sample == 0 {
            book.sampled.push((seq, at));
        }
        if book.counting {
            let live = self.live.load(Ordering::Relaxed);
            let count = book.counts.entry(seq).or_insert(0);
            *count += 1;
            if *count >= live {
                book.counts.remove(&seq);
                self.window.add_permits(1);
            }
        }
    }

    fn closed(&self, why: String) {
        *self.closes.lock().unwrap().entry(why).or_insert(0) += 1;
    }
}

async fn connection(
    args: Arc<Args>,
    index: usize,
    shared: Arc<Shared>,
    ready_tx: tokio::sync::mpsc::Sender<bool>,
) {
    let url = &args.ws[index % args.ws.len()];
    let mut request = url.as_str().into_client_request().expect("ws url");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", args.token).parse().expect("token"),
    );
    // Small buffers: 10,000 connections in this process.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let connected = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async_with_config(request, Some(config), true),
    )
    .await;
    let mut ws = match connected {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => {
            eprintln!("connect failed: {e}");
            let _ = ready_tx.send(false).await;
            return;
        }
        Err(_) => {
            eprintln!("connect timed out");
            let _ = ready_tx.send(false).await;
            return;
        }
    };
    // ready, subscribe, subscribed
    let handshake = async {
        let mut subscribed = false;
        while let Some(message) = ws.next().await {
            let Ok(Message::Text(text)) = message else {
                if let Ok(Message::Ping(_)) | Ok(Message::Pong(_)) = message {
                    continue;
                }
                return false;
            };
            let Ok(m) = serde_json::from_str::<Incoming>(&text) else {
                return false;
            };
            match m.kind {
                "ready" => {
                    let subscribe = r#"{"type":"subscribe","channel":"Room:list"}"#;
                    if ws.send(Message::Text(subscribe.into())).await.is_err() {
                        return false;
                    }
                }
                "subscribed" => {
                    subscribed = true;
                    break;
                }
                _ => return false,
            }
        }
        subscribed
    };
    let ok = tokio::time::timeout(Duration::from_secs(30), handshake)
        .await
        .unwrap_or(false);
    if !ok {
        eprintln!("no ready/subscribed");
        let _ = ready_tx.send(false).await;
        return;
    }
    shared.live.fetch_add(1, Ordering::Relaxed);
    shared.subscribed.fetch_add(1, Ordering::Relaxed);
    let _ = ready_tx.send(true).await;
    drop(ready_tx);
    loop {
        let message = ws.next().await;
        match message {
            Some(Ok(Message::Text(text))) => {
                let at = Instant::now();
                match serde_json::from_str::<Incoming>(&text) {
                    Ok(Incoming {
                        kind: "update",
                        seq: Some(seq),
                    }) => shared.on_update(seq, at),
                    _ => eprintln!("unexpected: {}", &text[..text.len().min(200)]),
                }
            }
            Some(Ok(Message::Close(frame))) => {
                shared.closed(
                    frame
                        .map(|f| u16::from(f.code).to_string())
                        .unwrap_or_else(|| "none".to_owned()),
                );
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                if !shared.stop.load(Ordering::Relaxed) {
                    shared.closed(format!("error:{e}"));
                }
                break;
            }
            None => {
                shared.closed("eof".to_owned());
                break;
            }
        }
    }
    shared.live.fetch_sub(1, Ordering::Relaxed);
}

// ---- the writer: HTTP/1.1 keep-alive, by hand -----------------------------------------------------------------

struct Http {
    stream: BufReader<TcpStream>,
    request_head: String,
}

impl Http {
    async fn connect(args: &Args, addr: &str) -> std::io::Result<Http> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let request_head = format!(
            "POST /api/rooms HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n",
            addr, args.token
        );
        Ok(Http {
            stream: BufReader::new(stream),
            request_head,
        })
    }

    /// Creates a room; returns its event's `seq`.
    async fn post_room(&mut self, n: u64) -> Result<i64, String> {
        let body = format!(r#"{{"title":"bench room {n}"}}"#);
        let request = format!(
            "{}Content-Length: {}\r\n\r\n{}",
            self.request_head,
            body.len(),
            body
        );
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        let mut status = 0u16;
        let mut length = 0usize;
        let mut seq = None;
        for i in 0..64 {
            line.clear();
            let n = self
                .stream
                .read_line(&mut line)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".to_owned());
            }
            let l = line.trim_end();
            if i == 0 {
                status = l
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                continue;
            }
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                let name = name.trim().to_ascii_lowercase();
                if name == "content-length" {
                    length = value.trim().parse().unwrap_or(0);
                } else if name == "event-seq" {
                    seq = value.trim().parse().ok();
                }
            }
        }
        let mut body = vec![0u8; length];
        self.stream
            .read_exact(&mut body)
            .await
            .map_err(|e| e.to_string())?;
        if !(200..300).contains(&status) {
            return Err(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        seq.ok_or_else(|| "no Event-Seq header".to_owned())
    }
}

/// A few keep-alive connections per instance, taken and given back by the writes; write n goes to instance
/// n mod K. At most `--max-http` connections per instance: further writes wait for one (bounded file
/// descriptors when the servers fall behind a fixed rate).
struct Pool {
    args: Arc<Args>,
    idle: Vec<Mutex<Vec<Http>>>,
    open: Vec<tokio::sync::Semaphore>,
    counter: AtomicU64,
}

impl Pool {
    /// The send time is taken before waiting for a connection, so that a fixed rate's latency counts that wait.
    async fn post(&self) -> Result<(i64, Instant), String> {
        let sent = Instant::now();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let instance = n as usize % self.idle.len();
        let _permit = self.open[instance].acquire().await.expect("semaphore");
        let idle = self.idle[instance].lock().unwrap().pop();
        let mut http = match idle {
            Some(http) => http,
            None => Http::connect(&self.args, &self.args.http[instance])
                .await
                .map_err(|e| e.to_string())?,
        };
        let seq = http.post_room(n).await?;
        self.idle[instance].lock().unwrap().push(http);
        Ok((seq, sent))
    }
}

/// Latencies in ms of the receipts whose seq has a send time.
fn latencies_ms(sent: &[(i64, Instant)], receipts: &[(i64, Instant)]) -> Vec<f64> {
    let send_times: HashMap<i64, Instant> = sent.iter().copied().collect();
    let mut latencies: Vec<f64> = receipts
        .iter()
        .filter_map(|(seq, at)| {
            send_times
                .get(seq)
                .map(|s| at.saturating_duration_since(*s).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    latencies
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn run(args: Args) -> Vec<(String, String)> {
    let args = Arc::new(args);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| out.push((k.to_owned(), v));
    put("label", args.label.clone());
    put("conns", args.conns.to_string());
    put("instances", args.server_pids.len().to_string());
    let shared = Arc::new(Shared {
        book: Mutex::new(Book {
            sample: args.sat_sample,
            ..Book::default()
        }),
        delivered: AtomicU64::new(0),
        live: AtomicUsize::new(0),
        subscribed: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        closes: Mutex::new(HashMap::new()),
        window: tokio::sync::Semaphore::new(0),
        stop: AtomicBool::new(false),
    });
    let pool = Arc::new(Pool {
        args: args.clone(),
        idle: args.http.iter().map(|_| Mutex::new(Vec::new())).collect(),
        open: args
            .http
            .iter()
            .map(|_| tokio::sync::Semaphore::new(args.max_http.max(1)))
            .collect(),
        counter: AtomicU64::new(0),
    });

    // Warm-up writes (lazy initialization on the servers), then the idle RSS.
    let warm_up = (2 * args.http.len()).max(5) as u64;
    for _ in 0..warm_up {
        if let Err(e) = pool.post().await {
            panic!("warm-up write failed: {e}");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss0 = rss_kib(&args.server_pids);

    // 1. connections
    let started = Instant::now();
    let handshakes = Arc::new(tokio::sync::Semaphore::new(args.handshakes.max(1)));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<bool>(1024);
    for index in 0..args.conns {
        let permit = handshakes.clone().acquire_owned().await.expect("semaphore");
        let (task_args, task_shared) = (args.clone(), shared.clone());
        let (inner_tx, mut inner_rx) = tokio::sync::mpsc::channel::<bool>(1);
        tokio::spawn(connection(task_args, index, task_shared, inner_tx));
        let ready_tx = ready_tx.clone();
        tokio::spawn(async move {
            let ok = inner_rx.recv().await.unwrap_or(false);
            drop(permit);
            let _ = ready_tx.send(ok).await;
        });
        // Drain what is ready, without waiting.
        while let Ok(ok) = ready_rx.try_recv() {
            if !ok {
                shared.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    drop(ready_tx);
    while let Some(ok) = ready_rx.recv().await {
        if !ok {
            shared.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let connected = shared.subscribed.load(Ordering::Relaxed);
    eprintln!(
        "[{}] {connected} of {} subscribed in {connect_secs:.1} s ({} failed)",
        args.label,
        args.conns,
        shared.failed.load(Ordering::Relaxed)
    );
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let idle_before = Cpu::now(&args);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_after = Cpu::now(&args);
    let rss1 = rss_kib(&args.server_pids);
    put("connected", connected.to_string());
    put("connect_s", format!("{connect_secs:.2}"));
    put("rss0_kib", rss0.to_string());
    put("rss1_kib", rss1.to_string());
    put(
        "kib_per_conn",
        format!(
            "{:.2}",
            (rss1 as f64 - rss0 as f64) / connected.max(1) as f64
        ),
    );
    put(
        "idle_server_cores",
        format!("{:.3}", idle_after.used_since(&idle_before).server),
    );
    if connected == 0 {
        return out;
    }

    // 2. latency at a fixed rate
    shared.book.lock().unwrap().recording = true;
    let writes = (args.rate * args.latency_secs).round() as u64;
    let sent: Arc<Mutex<Vec<(i64, Instant)>>> =
        Arc::new(Mutex::new(Vec::with_capacity(writes as usize)));
    let write_errors = Arc::new(AtomicUsize::new(0));
    let before = Cpu::now(&args);
    let delivered_before = shared.delivered.load(Ordering::Relaxed);
    let write_start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for _ in 0..writes {
        tick.tick().await;
        let (pool, sent, errors) = (pool.clone(), sent.clone(), write_errors.clone());
        tasks.push(tokio::spawn(async move {
            match pool.post().await {
                Ok(s) => sent.lock().unwrap().push(s),
                Err(e) => {
                    eprintln!("write failed: {e}");
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let write_done = Instant::now();
    // Wait (10 s at most) until every live connection received every write.
    let expected =
        |shared: &Shared, sent: usize| sent as u64 * shared.live.load(Ordering::Relaxed) as u64;
    let n_sent = sent.lock().unwrap().len();
    for _ in 0..1000 {
        if shared.delivered.load(Ordering::Relaxed) - delivered_before >= expected(&shared, n_sent)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = Cpu::now(&args);
    let used = after.used_since(&before);
    let (srv, me, others) = (used.server, used.me, used.others);
    let receipts = {
        let mut book = shared.book.lock().unwrap();
        book.recording = false;
        std::mem::take(&mut book.receipts)
    };
    let latencies = latencies_ms(&sent.lock().unwrap(), &receipts);
    let expected_total = expected(&shared, n_sent);
    put("lat_rate", format!("{}", args.rate));
    put("lat_writes", n_sent.to_string());
    // Writes completed per second, from the first write's schedule to the last write's answer: below lat_rate
    // when the server answers slower than the schedule.
    put(
        "lat_achieved_rate",
        format!(
            "{:.1}",
            n_sent as f64 / write_done.duration_since(write_start).as_secs_f64()
        ),
    );
    put(
        "lat_write_errors",
        write_errors.load(Ordering::Relaxed).to_string(),
    );
    put("lat_expected", expected_total.to_string());
    put("lat_received", latencies.len().to_string());
    put("lat_p50_ms", format!("{:.2}", percentile(&latencies, 50.0)));
    put("lat_p99_ms", format!("{:.2}", percentile(&latencies, 99.0)));
    put(
        "lat_max_ms",
        format!("{:.2}", percentile(&latencies, 100.0)),
    );
    put(
        "lat_drain_s",
        format!("{:.2}", after.at.duration_since(write_done).as_secs_f64()),
    );
    put("lat_server_cores", format!("{srv:.3}"));
    put("lat_load_cores", format!("{me:.3}"));
    put("lat_others_cores", format!("{others:.3}"));
    put("lat_db_cores", format!("{:.3}", used.db));
    put(
        "lat_server_us_per_delivery",
        format!(
            "{:.3}",
            used.server_ticks as f64 / HZ * 1e6 / (latencies.len() as f64).max(1.0)
        ),
    );
    eprintln!(
        "[{}] latency at {}/s: {} writes, {} of {} received, p50 {:.2} ms, p99 {:.2} ms; cores: server {srv:.2}, load {me:.2}, others {others:.2}",
        args.label,
        args.rate,
        n_sent,
        latencies.len(),
        expected_total,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0)
    );
    drop(latencies);
    drop(receipts);
    if args.sat_secs <= 0.0 {
        finish(&shared, &write_errors, &mut put);
        return out;
    }

    // 3. saturation: a window of writes not yet received by everyone
    {
        let mut book = shared.book.lock().unwrap();
        book.counting = true;
        book.sampling = true;
    }
    // Send times of the sampled writes sent while measuring.
    let measuring = Arc::new(AtomicBool::new(false));
    let sat_sent: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    shared.window.add_permits(args.window);
    let stop_writers = Arc::new(AtomicBool::new(false));
    let sat_writes = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for _ in 0..args.writers {
        let (pool, shared, stop, count, errors, measuring, sat_sent) = (
            pool.clone(),
            shared.clone(),
            stop_writers.clone(),
            sat_writes.clone(),
            write_errors.clone(),
            measuring.clone(),
            sat_sent.clone(),
        );
        let sample = args.sat_sample;
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                // Bounded: the phase has a deadline, and each wait for the window 1 s at most.
                let Ok(Ok(permit)) =
                    tokio::time::timeout(Duration::from_secs(1), shared.window.acquire()).await
                else {
                    continue;
                };
                permit.forget();
                match pool.post().await {
                    Ok((seq, sent)) => {
                        count.fetch_add(1, Ordering::Relaxed);
                        if seq % sample == 0 && measuring.load(Ordering::Relaxed) {
                            sat_sent.lock().unwrap().push((seq, sent));
                        }
                    }
                    Err(e) => {
                        eprintln!("write failed: {e}");
                        errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.sat_warmup)).await;
    let before = Cpu::now(&args);
    let d0 = shared.delivered.load(Ordering::Relaxed);
    let w0 = sat_writes.load(Ordering::Relaxed);
    measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(args.sat_secs)).await;
    measuring.store(false, Ordering::Relaxed);
    let after = Cpu::now(&args);
    let d1 = shared.delivered.load(Ordering::Relaxed);
    let w1 = sat_writes.load(Ordering::Relaxed);
    stop_writers.store(true, Ordering::Relaxed);
    shared.window.add_permits(args.writers);
    for writer in writers {
        let _ = writer.await;
    }
    let secs = after.at.duration_since(before.at).as_secs_f64();
    let used = after.used_since(&before);
    let (srv, me, others, srv_ticks, me_ticks) = (
        used.server,
        used.me,
        used.others,
        used.server_ticks,
        used.me_ticks,
    );
    let deliveries = (d1 - d0) as f64;
    put("sat_deliveries_per_s", format!("{:.0}", deliveries / secs));
    put(
        "sat_writes_per_s",
        format!("{:.1}", (w1 - w0) as f64 / secs),
    );
    put("sat_server_cores", format!("{srv:.3}"));
    put("sat_load_cores", format!("{me:.3}"));
    put("sat_others_cores", format!("{others:.3}"));
    put("sat_db_cores", format!("{:.3}", used.db));
    put(
        "sat_db_us_per_delivery",
        format!(
            "{:.3}",
            used.db_ticks as f64 / HZ * 1e6 / deliveries.max(1.0)
        ),
    );
    put(
        "sat_server_us_per_delivery",
        format!("{:.3}", srv_ticks as f64 / HZ * 1e6 / deliveries.max(1.0)),
    );
    put(
        "sat_load_us_per_delivery",
        format!("{:.3}", me_ticks as f64 / HZ * 1e6 / deliveries.max(1.0)),
    );
    // Everything delivered (10 s at most), then the sampled latencies.
    let all = sat_writes.load(Ordering::Relaxed) + n_sent as u64;
    for _ in 0..1000 {
        let live = shared.live.load(Ordering::Relaxed) as u64;
        if shared.delivered.load(Ordering::Relaxed) >= delivered_before + all * live {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sampled = {
        let mut book = shared.book.lock().unwrap();
        book.sampling = false;
        std::mem::take(&mut book.sampled)
    };
    let sat_sent = std::mem::take(&mut *sat_sent.lock().unwrap());
    let sat_latencies = latencies_ms(&sat_sent, &sampled);
    put("sat_sample", args.sat_sample.to_string());
    put("sat_lat_writes", sat_sent.len().to_string());
    put("sat_lat_received", sat_latencies.len().to_string());
    put(
        "sat_lat_p50_ms",
        format!("{:.2}", percentile(&sat_latencies, 50.0)),
    );
    put(
        "sat_lat_p99_ms",
        format!("{:.2}", percentile(&sat_latencies, 99.0)),
    );
    put(
        "sat_lat_max_ms",
        format!("{:.2}", percentile(&sat_latencies, 100.0)),
    );
    eprintln!(
        "[{}] saturation: {:.0} deliveries/s, {:.1} writes/s, p50 {:.2} ms, p99 {:.2} ms (every {}th write: {} writes, {} receipts); cores: server {srv:.2}, load {me:.2}, db {:.2}, others {others:.2}",
        args.label,
        deliveries / secs,
        (w1 - w0) as f64 / secs,
        percentile(&sat_latencies, 50.0),
        percentile(&sat_latencies, 99.0),
        args.sat_sample,
        sat_sent.len(),
        sat_latencies.len(),
        used.db,
    );
    finish(&shared, &write_errors, &mut put);
    out
}

/// The end state: connections still live, write errors, closes by the server.
fn finish(shared: &Shared, write_errors: &AtomicUsize, put: &mut impl FnMut(&str, String)) {
    shared.stop.store(true, Ordering::Relaxed);
    put(
        "live_at_end",
        shared.live.load(Ordering::Relaxed).to_string(),
    );
    put(
        "write_errors",
        write_errors.load(Ordering::Relaxed).to_string(),
    );
    let closes = shared.closes.lock().unwrap();
    let mut closes: Vec<String> = closes.iter().map(|(k, v)| format!("{k}x{v}")).collect();
    closes.sort();
    put(
        "closes",
        if closes.is_empty() {
            "none".to_owned()
        } else {
            closes.join(",").replace(' ', "_")
        },
    );
}

fn main() {
    let args = parse_args();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("runtime");
    let out = runtime.block_on(run(args));
    let line: Vec<String> = out.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("RESULT {}", line.join(" "));
    // Leave without closing 10,000 connections one by one: the kernel closes the sockets.
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only receipts of writes with a send time count (the sampled ones, at saturation), each from its own send.
    #[test]
    fn latencies_of_sampled_writes_only() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let sent = [(10, ms(0)), (20, ms(5))];
        let receipts = [
            (10, ms(3)),
            (11, ms(4)),
            (20, ms(6)),
            (10, ms(9)),
            (30, ms(9)),
        ];
        let latencies = latencies_ms(&sent, &receipts);
        assert_eq!(latencies.len(), 3);
        let rounded: Vec<u64> = latencies.iter().map(|l| l.round() as u64).collect();
        assert_eq!(rounded, [1, 3, 9]);
        assert_eq!(percentile(&latencies, 50.0).round(), 3.0);
        assert_eq!(percentile(&latencies, 99.0).round(), 9.0);
    }

    /// The database's backends are found by their process title: a database nobody serves has none.
    #[test]
    fn backends_of_no_database_are_none() {
        assert!(db_backend_ticks("ssot_gw_no_such_database_here").is_empty());
    }
}
