//! Harness for the end-to-end HTTP tests of the generated server: builds the chat example once per test binary,
//! starts it on a fresh SQLite file or PostgreSQL database, mints tokens, sends requests and reads the outbox.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::common::pg::{psql, TestDatabase};
use crate::common::{cargo, generate_example, shared_target_dir};

pub const JWT_SECRET: &str = "test-secret";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The built `chat-api` server binary, generated and built once per test binary, then copied to a path of its own
/// so that other tests building the chat example into the shared target dir cannot swap it underneath us.
pub fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build_chat_server("chat-api", &generate_example("chat")))
}

/// Writes `generated` (a version of the chat example) into a crate dir named `label`, builds it in the shared
/// target dir and copies the binary to `<label>-under-test`.
pub fn build_chat_server(label: &str, generated: &ssot_gen::Generated) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("server-tests");
    let crate_dir = dir.join(label);
    // A fixed crate dir keeps rebuilds incremental; stale files from an older generator are removed first, but
    // the lock file is kept so that dependencies are not resolved again on every run.
    let lock = std::fs::read(crate_dir.join("Cargo.lock")).ok();
    let _ = std::fs::remove_dir_all(&crate_dir);
    ssot_gen::output::write(generated, &crate_dir).unwrap();
    // A user's hook replaces the starting point, as a user would edit it (tests/server.rs `hooks_run`).
    std::fs::write(
        crate_dir.join("src/hooks/room.rs"),
        include_str!("../fixtures/room_hook.rs"),
    )
    .unwrap();
    if let Some(lock) = lock {
        if !crate_dir.join("Cargo.lock").exists() {
            std::fs::write(crate_dir.join("Cargo.lock"), lock).unwrap();
        }
    }
    cargo(&crate_dir, &["build", "--quiet"]);
    let built = built_binary("chat-api");
    // Copied under a temporary name, then renamed: a server still running from another test run keeps its file.
    let partial = dir.join(format!("{label}-{}.partial", std::process::id()));
    let copy = dir.join(format!(
        "{label}-under-test{}",
        std::env::consts::EXE_SUFFIX
    ));
    std::fs::copy(&built, &partial).unwrap();
    std::fs::rename(&partial, &copy).unwrap();
    copy
}

/// The runtime crate's own server (`runtime/`, generated from `runtime/schema.yaml`: users and owner-only notes
/// with a self-reference), built in the shared target dir: for what the chat example's schema does not have.
#[allow(dead_code)]
pub fn runtime_server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime");
        cargo(&runtime, &["build", "--quiet", "--bin", "ssot-runtime"]);
        built_binary("ssot-runtime")
    })
}

/// The debug binary `name` that `cargo build` just produced in the shared target dir.
fn built_binary(name: &str) -> PathBuf {
    let built = shared_target_dir()
        .join("debug")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        built.exists(),
        "cargo build did not produce {}",
        built.display()
    );
    built
}

/// A value unique within this test run (and practically across runs).
pub fn unique() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    nanos.wrapping_mul(6364136223846793005).wrapping_add(
        COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(1442695040888963407),
    ) ^ (u64::from(std::process::id()) << 32)
}

/// A random-looking v4 uuid, for subjects that have no user row (the admin).
pub fn fake_uuid() -> String {
    let a = unique();
    let b = unique();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

/// A running server; killed (and its PostgreSQL database dropped) on drop. When dropped during a panic, its log is
/// printed so a failing test shows what the server said.
pub struct Server {
    pub base: String,
    pub backend: Backend,
    child: Child,
    log: Arc<Mutex<String>>,
    agent: ureq::Agent,
    /// The PostgreSQL database this server owns, dropped after it (none for a second instance on it).
    database: Option<TestDatabase>,
    /// The extra environment it was started with (kept for `restart`).
    env: Vec<(String, String)>,
    /// The highest `Event-Seq` any response of this database's servers carried: what a WebSocket connection made
    /// from now on may take as already dispatched (see `ws::Ws::connect`). Shared with `another_instance`.
    last_seq: Arc<std::sync::atomic::AtomicI64>,
    _dir: tempfile::TempDir,
    /// The server binary it runs (`server_binary()` unless started with `start_binary`).
    binary: PathBuf,
}

impl Server {
    pub fn start_sqlite() -> Server {
        Server::start_sqlite_with(&[])
    }

    /// With extra environment variables (limits of the gateway, say).
    pub fn start_sqlite_with(env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("chat.db");
        Server::start(Backend::Sqlite(db), dir, env, None)
    }

    /// `binary` (another generated server than the chat example's) on SQLite.
    #[allow(dead_code)]
    pub fn start_binary_sqlite(binary: &Path, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db");
        Server::start_as(binary, Backend::Sqlite(db), dir, env, None)
    }

    /// `binary` on a PostgreSQL database of its own, dropped when the server is.
    #[allow(dead_code)]
    pub fn start_binary_postgres(binary: &Path, env: &[(&str, &str)]) -> Server {
        let database = TestDatabase::create("ssot_gen_test");
        let backend = Backend::Postgres(database.name.clone());
        Server::start_as(
            binary,
            backend,
            tempfile::tempdir().unwrap(),
            env,
            Some(database),
        )
    }

    /// Creates a database of its own on the local PostgreSQL; it is dropped when the server is.
    pub fn start_postgres() -> Server {
        Server::start_postgres_with(&[])
    }

    /// With extra environment variables; creates a database of its own, dropped when the server is.
    pub fn start_postgres_with(env: &[(&str, &str)]) -> Server {
        // Dropped with the server, or here if the server does not start.
        let database = TestDatabase::create("ssot_gen_test");
        let backend = Backend::Postgres(database.name.clone());
        Server::start(backend, tempfile::tempdir().unwrap(), env, Some(database))
    }

    /// A second server process on the same database (PostgreSQL: another instance; the first one keeps owning
    /// the database).
    pub fn another_instance(&self, env: &[(&str, &str)]) -> Server {
        let mut other = Server::start(
            self.backend.clone(),
            tempfile::tempdir().unwrap(),
            env,
            None,
        );
        other.last_seq = self.last_seq.clone();
        other
    }

    /// The highest `Event-Seq` seen in a response so far (0 before any write).
    pub fn last_seq(&self) -> i64 {
        self.last_seq.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn database_url(&self) -> String {
        database_url(&self.backend)
    }

    /// Another build of the server (an older version of the schema, say) on `backend`, which the caller keeps
    /// (its database is not dropped with the server).
    pub fn start_binary(binary: &Path, backend: Backend) -> Server {
        Server::start_as(binary, backend, tempfile::tempdir().unwrap(), &[], None)
    }

    fn start(
        backend: Backend,
        dir: tempfile::TempDir,
        env: &[(&str, &str)],
        database: Option<TestDatabase>,
    ) -> Server {
        Server::start_as(server_binary(), backend, dir, env, database)
    }

    fn start_as(
        binary: &Path,
        backend: Backend,
        dir: tempfile::TempDir,
        env: &[(&str, &str)],
        database: Option<TestDatabase>,
    ) -> Server {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let log = Arc::new(Mutex::new(String::new()));
        let (child, base) = spawn(binary, &backend, dir.path(), &env, "127.0.0.1:0", &log)
            .unwrap_or_else(|e| panic!("{e}"));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Server {
            base,
            backend,
            child,
            log,
            agent,
            database,
            env,
            last_seq: Arc::default(),
            _dir: dir,
            binary: binary.to_path_buf(),
        }
    }

    /// Kills the process at once (SIGKILL: no graceful shutdown, connections just drop) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again (killing it first if it still runs) on the same address and database, with the
    /// environment it was started with and `env` on top. The log goes on in the same `log()`.
    pub fn restart_with(&mut self, env: &[(&str, &str)]) {
        self.kill();
        let mut merged = self.env.clone();
        merged.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let bind = self.base.trim_start_matches("http://").to_owned();
        self.log
            .lock()
            .unwrap()
            .push_str(&format!("===== restarted on {bind} =====\n"));
        // The port was just released; retry briefly in case binding it again races with the old socket's close.
        let mut attempt = 0;
        let (child, base) = loop {
            match spawn(
                &self.binary,
                &self.backend,
                self._dir.path(),
                &merged,
                &bind,
                &self.log,
            ) {
                Ok(started) => break started,
                Err(e) if attempt < 20 => {
                    attempt += 1;
                    eprintln!("restarting on {bind} failed ({e}); retrying");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(base, self.base, "the restarted server listens elsewhere");
        self.child = child;
    }

    /// `restart_with` without extra environment.
    pub fn restart(&mut self) {
        self.restart_with(&[]);
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `<binary> token --sub <sub> [--role <role>]…` with the server's secret.
    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        token_with_secret(sub, roles, JWT_SECRET)
    }

    /// A token of an admin who has no user row.
    pub fn admin_token(&self) -> String {
        self.token(&fake_uuid(), &["admin"])
    }

    pub fn req(&self, method: &str, path: &str) -> Req<'_> {
        Req {
            server: self,
            method: method.to_owned(),
            path: path.to_owned(),
            token: None,
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.req("GET", path)
    }
    pub fn post(&self, path: &str) -> Req<'_> {
        self.req("POST", path)
    }
    pub fn put(&self, path: &str) -> Req<'_> {
        self.req("PUT", path)
    }
    pub fn patch(&self, path: &str) -> Req<'_> {
        self.req("PATCH", path)
    }
    pub fn delete(&self, path: &str) -> Req<'_> {
        self.req("DELETE", path)
    }

    /// Runs one SQL query against the server's database; rows `|`-separated, one per line.
    pub fn sql(&self, sql: &str) -> String {
        match &self.backend {
            Backend::Sqlite(path) => crate::common::sqlite::query(path, sql),
            Backend::Postgres(db) => psql(db, sql),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Sends SIGTERM (a graceful shutdown) to the server process.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `wait` for the process to exit; its exit status if it did.
    pub fn wait_exit(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Rows in the outbox.
    pub fn event_count(&self) -> u64 {
        let out = self.sql("SELECT count(*) FROM _ssot_events");
        out.parse().unwrap_or_else(|_| panic!("bad count {out:?}"))
    }

    /// Drops the PostgreSQL database under the running server (to see it notice).
    pub fn drop_database_now(&self) {
        if let Backend::Postgres(db) = &self.backend {
            psql("test", &format!("DROP DATABASE {db} WITH (FORCE)")).unwrap();
        }
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    pub fn name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// Starts the server binary on `bind` and waits for its address line; the process and its base URL. Its standard
/// error (and any unexpected standard output) is appended to `log`.
fn spawn(
    binary: &Path,
    backend: &Backend,
    dir: &Path,
    env: &[(String, String)],
    bind: &str,
    log: &Arc<Mutex<String>>,
) -> Result<(Child, String), String> {
    let mut child = Command::new(binary)
        .current_dir(dir)
        .env("BIND_ADDR", bind)
        .env("DATABASE_URL", database_url(backend))
        .env("JWT_SECRET", JWT_SECRET)
        // No leeway, so that tests of expiry need not wait a minute.
        .env("JWT_LEEWAY_SECS", "0")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("MAX_TAKE")
        .env_remove("DEFAULT_TAKE")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    {
        let log = log.clone();
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                log.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    let (tx, rx) = mpsc::channel();
    {
        let stdout = child.stdout.take().unwrap();
        let log = log.clone();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Anything else on stdout breaks the contract ("exactly one line"); keep it for the log.
            for line in lines.map_while(Result::ok) {
                log.lock()
                    .unwrap()
                    .push_str(&format!("[unexpected stdout] {line}\n"));
            }
        });
    }
    let line = match rx.recv_timeout(STARTUP_TIMEOUT) {
        Ok(line) => line,
        Err(e) => {
            std::thread::sleep(Duration::from_millis(200));
            let status = child.try_wait();
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "the server did not print its address within {STARTUP_TIMEOUT:?} ({e}; exit status {status:?}); log:\n{}",
                log.lock().unwrap()
            ));
        }
    };
    let base = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| {
            panic!(
                "first stdout line should be `listening on http://127.0.0.1:<port>`, is {line:?}; log:\n{}",
                log.lock().unwrap()
            )
        })
        .trim_end_matches('/')
        .to_owned();
    assert!(
        base.starts_with("http://127.0.0.1:")
            && base["http://127.0.0.1:".len()..].parse::<u16>().is_ok(),
        "bad address line {line:?}"
    );
    Ok((child, base))
}

fn database_url(backend: &Backend) -> String {
    match backend {
        Backend::Sqlite(path) => format!("sqlite://{}", path.display()),
        Backend::Postgres(db) => format!("postgres://postgres@127.0.0.1:5432/{db}"),
    }
}

/// A token from the server binary, signed with `secret`.
pub fn token_with_secret(sub: &str, roles: &[&str], secret: &str) -> String {
    let mut cmd = Command::new(server_binary());
    cmd.args(["token", "--sub", sub]);
    for role in roles {
        cmd.args(["--role", role]);
    }
    let dir = std::env::temp_dir();
    let out = cmd
        .current_dir(dir)
        .env("JWT_SECRET", secret)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("token command runs");
    assert!(
        out.status.success(),
        "`token --sub {sub}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        token.split('.').count(),
        3,
        "`token` should print one JWT, printed {token:?}"
    );
    token
}

/// A HS256 JWT made by hand (through Python's hmac) with the given claims, to test what the server accepts.
pub fn handmade_jwt(claims: &Value, secret: &str) -> String {
    python_jwt(
        &serde_json::json!({ "alg": "HS256", "typ": "JWT" }),
        claims,
        Some(secret),
    )
}

/// A JWT of any header and claims whose third part is `signature` (not a real one), as an attacker makes it.
pub fn unsigned_jwt(header: &Value, claims: &Value, signature: &str) -> String {
    let token = python_jwt(header, claims, None);
    format!("{token}{signature}")
}

/// `header.claims.` in base64url, then the HS256 signature with `secret` if one is given.
fn python_jwt(header: &Value, claims: &Value, secret: Option<&str>) -> String {
    let program = r#"
import base64, hashlib, hmac, sys
def b64(data): return base64.urlsafe_b64encode(data).rstrip(b"=")
signed = b64(sys.argv[1].encode()) + b"." + b64(sys.argv[2].encode())
sig = b64(hmac.new(sys.argv[3].encode(), signed, hashlib.sha256).digest()) if len(sys.argv) > 3 else b""
print((signed + b"." + sig).decode())
"#;
    let (header, claims) = (header.to_string(), claims.to_string());
    let mut args = vec!["-c", program, &header, &claims];
    args.extend(secret);
    let out = Command::new("python3")
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "===== {} server log ({}) =====\n{}\n===== end of server log =====",
                self.name(),
                self.base,
                self.log()
            );
        }
    }
}

/// One request being built.
pub struct Req<'a> {
    server: &'a Server,
    method: String,
    path: String,
    token: Option<String>,
    body: Option<String>,
    headers: Vec<(String, String)>,
}

impl Req<'_> {
    /// Adds a request header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
    pub fn auth(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }
    pub fn auth_opt(mut self, token: Option<&str>) -> Self {
        self.token = token.map(str::to_owned);
        self
    }
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body.to_string());
        self
    }
    /// A raw body, sent as `application/json` whatever it contains.
    pub fn raw(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }
    /// Adds a query parameter (percent-encoded).
    pub fn query(mut self, key: &str, value: &str) -> Self {
        let sep = if self.path.contains('?') { '&' } else { '?' };
        self.path = format!("{}{sep}{key}={}", self.path, encode(value));
        self
    }

    /// Sends the request; panics (with the server's log) when no complete response arrives.
    pub fn send(self) -> Resp {
        let server = self.server;
        self.try_send()
            .unwrap_or_else(|e| panic!("{e}; server log:\n{}", server.log()))
    }

    /// Sends the request; `Err` says why no complete response arrived (the server is down, say).
    pub fn try_send(self) -> Result<Resp, String> {
        let url = format!("{}{}", self.server.base, self.path);
        let mut builder = ureq::http::Request::builder()
            .method(self.method.as_str())
            .uri(&url);
        if let Some(token) = &self.token {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let described = format!(
            "{} {} {}{}",
            self.method,
            self.path,
            if self.token.is_some() {
                "(with token) "
            } else {
                "(anonymous) "
            },
            self.body.as_deref().map(shorten).unwrap_or_default()
        );
        let result = match self.body {
            Some(body) => {
                let request = builder
                    .header("Content-Type", "application/json")
                    .body(body.into_bytes())
                    .unwrap();
                self.server.agent.run(request)
            }
            None => self.server.agent.run(builder.body(()).unwrap()),
        };
        let mut response = result.map_err(|e| format!("{described}: no response ({e})"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or("<binary>").to_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| format!("{described}: cannot read body: {e}"))?;
        let json = serde_json::from_str(&body).ok();
        let response = Resp {
            request: described,
            status,
            headers,
            body,
            json,
        };
        if let Some(seq) = response.header("event-seq").and_then(|v| v.parse().ok()) {
            self.server
                .last_seq
                .fetch_max(seq, std::sync::atomic::Ordering::AcqRel);
        }
        Ok(response)
    }
}

fn shorten(body: &str) -> String {
    if body.chars().count() > 300 {
        format!(
            "{}… ({} bytes)",
            body.chars().take(300).collect::<String>(),
            body.len()
        )
    } else {
        body.to_owned()
    }
}

/// A response, with the request that caused it for messages.
pub struct Resp {
    pub request: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub json: Option<Value>,
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request: {}\nresponse: {} {:?}\n{}",
            self.request,
            self.status,
            self.headers,
            shorten(&self.body)
        )
    }
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the status and returns the JSON body (`Null` when there is none).
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status\n{self:?}");
        self.json.clone().unwrap_or(Value::Null)
    }

    /// Asserts the status and a JSON body.
    #[track_caller]
    pub fn expect_json(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status\n{self:?}");
        match &self.json {
            Some(v) => v.clone(),
            None => panic!("the body is not JSON\n{self:?}"),
        }
    }

    /// Asserts an error response: the status, the one error shape, and the code. Returns the `error` object.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        let body = self.expect_json(status);
        let error = body
            .get("error")
            .unwrap_or_else(|| panic!("error body without `error`\n{self:?}"));
        assert_eq!(
            error.get("code").and_then(Value::as_str),
            Some(code),
            "wrong error code\n{self:?}"
        );
        let message = error.get("message").and_then(Value::as_str);
        assert!(
            message.is_some_and(|m| !m.is_empty()),
            "error without a message\n{self:?}"
        );
        assert!(
            body.as_object().unwrap().len() == 1,
            "the error body has keys besides `error`\n{self:?}"
        );
        if let Some(details) = error.get("details") {
            assert!(details.is_array(), "`details` must be a list\n{self:?}");
        }
        error.clone()
    }

    /// Like `expect_error`, and the message (or a detail) names `what`.
    #[track_caller]
    pub fn expect_error_naming(&self, status: u16, code: &str, what: &str) -> Value {
        let error = self.expect_error(status, code);
        assert!(
            error.to_string().contains(what),
            "the error should name `{what}`\n{self:?}"
        );
        error
    }

    /// The `Event-Seq` header, as a number.
    #[track_caller]
    pub fn event_seq(&self) -> u64 {
        let value = self
            .header("event-seq")
            .unwrap_or_else(|| panic!("no Event-Seq header\n{self:?}"));
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Event-Seq is not a number\n{self:?}"))
    }
}

/// A user of the chat example, with a token for it.
pub struct User {
    pub id: String,
    pub token: String,
}

/// Creates a user (as an admin) and returns its id and a token for it.
pub fn new_user(s: &Server, admin: &str, name: &str) -> User {
    let body = s
        .post("/api/users")
        .auth(admin)
        .json(serde_json::json!({
            "email": format!("{name}-{}@example.com", unique()),
            "name": name,
            "passwordHash": "x-hash",
        }))
        .send()
        .expect_json(201);
    let id = body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("user id should be a uuid string: {body}"))
        .to_owned();
    User {
        token: s.token(&id, &[]),
        id,
    }
}

/// Creates a room owned by `owner`; returns its id.
pub fn new_room(s: &Server, owner: &User, title: &str) -> i64 {
    let body = s
        .post("/api/rooms")
        .auth(&owner.token)
        .json(serde_json::json!({ "title": title }))
        .send()
        .expect_json(201);
    body["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("room id should be an integer: {body}"))
}
