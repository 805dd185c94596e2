//! The filter and order evaluation of the TypeScript client, of the Rust client and of the server's SQL, compared
//! on random rows: the generated crate of `tests/fixtures/evaluation.yaml` (a model with a field of every type,
//! required and optional) is built and started on SQLite (and on PostgreSQL where it runs), random rows are created
//! through its REST API, and random queries (every operator of every field type, `AND`/`OR`/`NOT`, up to three sort
//! keys) are answered three ways: the server's list (SQL, paged), `examples/evaluate.rs` in the generated crate
//! (`Filter::matches`, `SortKey::compare`) and `tests/ts/crosscheck.mjs` (the generated `truth` and `compare`). The
//! three must agree on every case, page by page. Values are drawn from pools that hold the edges: nulls, equal
//! values (the id breaks ties), text that code point order and UTF-16 order sort differently, times with other
//! offsets and digits, bigints beyond 2^53, -0.0.

mod common;
#[path = "common/server.rs"]
mod server_harness;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use common::pg::{self, TestDatabase};
use common::{cargo, shared_target_dir};
use server_harness::encode;
use ssot_gen::model::types::{FilterKind, Scalar};

const ROWS: usize = 60;
const CASES: usize = 300;

/// xorshift64*: a small seeded random source, the same sequence on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One field of the fixture's model, as the model graph describes it.
struct Field {
    name: String,
    scalar: Scalar,
    optional: bool,
    /// The filter's operators: (name, takes a list).
    operators: Vec<(&'static str, bool)>,
    orderable: bool,
}

fn schema() -> String {
    std::fs::read_to_string(repo().join("tests/fixtures/evaluation.yaml")).unwrap()
}

/// The fields of `Row` but its id, with the operators the server accepts for each.
fn fields() -> Vec<Field> {
    let graph = ssot_gen::load("evaluation.yaml", &schema()).unwrap();
    let row = graph.models.iter().find(|m| m.name == "Row").unwrap();
    row.fields
        .iter()
        .filter(|f| !f.id)
        .map(|f| {
            let kind = FilterKind::for_scalar(f.scalar, f.optional).expect("every field filters");
            let operators = kind
                .field_operators(f.optional)
                .map(|op| (op.wire, op.list))
                .collect();
            Field {
                name: f.name.clone(),
                scalar: f.scalar,
                optional: f.optional,
                operators,
                orderable: f.orderable,
            }
        })
        .collect()
}

const TEXTS: &[&str] = &[
    "",
    "a",
    "A",
    "ab",
    "abc",
    "b",
    "B",
    "é",
    "e\u{301}",
    "\u{FFFD}",
    "\u{1F600}",
    "\u{E000}x",
    "\u{1F600}a",
    "z",
    "a%",
    "a_b",
    " ",
];
const INTS: &[i64] = &[-2147483648, -5, -1, 0, 1, 2, 7, 2147483647];
const BIGINTS: &[i64] = &[
    i64::MIN,
    -9007199254740993,
    -1,
    0,
    1,
    9007199254740992,
    9007199254740993,
    i64::MAX,
];
const FLOATS: &[f64] = &[
    -1.5,
    -0.0,
    0.0,
    0.1,
    0.30000000000000004,
    1e-300,
    2.5,
    1e300,
];
const UUIDS: &[&str] = &[
    "00000000-0000-4000-8000-000000000001",
    "5f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c3",
    "5f0c1d2e-3f40-4a5b-8c6d-7e8f90a1b2c4",
    "ffffffff-ffff-4fff-bfff-ffffffffffff",
];
const TIMES: &[&str] = &[
    "2026-01-01T00:00:00Z",
    "2026-01-01T00:00:00.5Z",
    "2026-01-01T00:00:00.000001Z",
    "2025-12-31T23:59:59.999999Z",
    "1999-06-01T12:00:00Z",
    "2026-01-01T00:00:00.123456Z",
];
/// The same instants written otherwise, only as filter operands.
const TIME_OPERANDS: &[&str] = &["2026-01-01T01:00:00+01:00", "2025-12-31T19:00:00.5-05:00"];
const DATES: &[&str] = &[
    "2024-02-29",
    "2024-03-01",
    "1999-12-31",
    "2000-01-01",
    "2026-11-26",
];
const KINDS: &[&str] = &["alpha", "beta", "Gamma", "delta"];

fn value(rng: &mut Rng, scalar: Scalar, operand: bool) -> Value {
    match scalar {
        Scalar::String | Scalar::Text => json!(rng.pick(TEXTS)),
        Scalar::Int => json!(rng.pick(INTS)),
        // Strings of digits: the wire form of a bigint.
        Scalar::BigInt => json!(rng.pick(BIGINTS).to_string()),
        Scalar::Float => json!(rng.pick(FLOATS)),
        Scalar::Bool => json!(rng.chance(50)),
        Scalar::Uuid => {
            let uuid = *rng.pick(UUIDS);
            // The server parses uuids: upper case is the same value.
            json!(if operand && rng.chance(30) {
                uuid.to_uppercase()
            } else {
                uuid.to_owned()
            })
        }
        Scalar::DateTime if operand && rng.chance(25) => json!(rng.pick(TIME_OPERANDS)),
        Scalar::DateTime => json!(rng.pick(TIMES)),
        Scalar::Date => json!(rng.pick(DATES)),
        Scalar::Enum => json!(rng.pick(KINDS)),
        Scalar::Json => json!({ "n": rng.below(3) }),
    }
}

fn row(rng: &mut Rng, fields: &[Field]) -> Value {
    let mut row = serde_json::Map::new();
    for f in fields {
        let v = if f.optional && rng.chance(30) {
            Value::Null
        } else {
            value(rng, f.scalar, false)
        };
        row.insert(f.name.clone(), v);
    }
    Value::Object(row)
}

/// One field's operators: one or two of them.
fn field_filter(rng: &mut Rng, fields: &[Field]) -> Value {
    let f = rng.pick(fields);
    let mut filter = serde_json::Map::new();
    for _ in 0..1 + usize::from(rng.chance(25)) {
        let &(op, list) = rng.pick(&f.operators);
        let operand = match (op, list) {
            ("isNull", _) => json!(rng.chance(50)),
            (_, true) => Value::Array(
                (0..rng.below(4))
                    .map(|_| value(rng, f.scalar, true))
                    .collect(),
            ),
            _ => value(rng, f.scalar, true),
        };
        filter.insert(op.to_owned(), operand);
    }
    json!({ f.name.clone(): filter })
}

fn filter(rng: &mut Rng, fields: &[Field], depth: usize) -> Value {
    if depth >= 2 || rng.chance(55) {
        let mut f = field_filter(rng, fields);
        if rng.chance(20) {
            // Two fields in one object: ANDed.
            if let (Some(f), Value::Object(g)) = (f.as_object_mut(), field_filter(rng, fields)) {
                f.extend(g);
            }
        }
        return f;
    }
    let combinator = *rng.pick(&["AND", "OR", "NOT"]);
    let parts: Vec<Value> = (0..rng.below(4))
        .map(|_| filter(rng, fields, depth + 1))
        .collect();
    json!({ combinator: parts })
}

fn order_by(rng: &mut Rng, fields: &[Field]) -> Value {
    let orderable: Vec<&str> = fields
        .iter()
        .filter(|f| f.orderable)
        .map(|f| f.name.as_str())
        .chain(["id"])
        .collect();
    Value::Array(
        (0..rng.below(4))
            .map(|_| json!({ *rng.pick(&orderable): *rng.pick(&["asc", "desc"]) }))
            .collect(),
    )
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The generated crate, built once per test binary: (crate dir, server binary, evaluate example).
fn built() -> &'static (PathBuf, PathBuf, PathBuf) {
    static BUILT: std::sync::OnceLock<(PathBuf, PathBuf, PathBuf)> = std::sync::OnceLock::new();
    BUILT.get_or_init(build)
}

fn build() -> (PathBuf, PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("crosscheck/eval-api");
    let lock = std::fs::read(dir.join("Cargo.lock")).ok().or_else(|| {
        // Another generated crate's lock: the same dependencies, already built in the shared target dir.
        std::fs::read(
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("server-tests/chat-api/Cargo.lock"),
        )
        .ok()
    });
    let _ = std::fs::remove_dir_all(&dir);
    let schema = std::fs::read_to_string(repo().join("tests/fixtures/evaluation.yaml")).unwrap();
    let generated =
        ssot_gen::generate_from_str("evaluation.yaml", &schema, &ssot_gen::Options::default())
            .unwrap();
    ssot_gen::output::write(&generated, &dir).unwrap();
    if let Some(lock) = lock {
        std::fs::write(dir.join("Cargo.lock"), lock).unwrap();
    }
    std::fs::write(
        dir.join("examples/evaluate.rs"),
        include_str!("fixtures/evaluate.rs"),
    )
    .unwrap();
    cargo(
        &dir,
        &[
            "build",
            "--quiet",
            "--bin",
            "eval-api",
            "--example",
            "evaluate",
        ],
    );
    let debug = shared_target_dir().join("debug");
    (dir, debug.join("eval-api"), debug.join("examples/evaluate"))
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(binary: &Path, database_url: &str, dir: &Path) -> (Running, String) {
    let mut child = Command::new(binary)
        .current_dir(dir)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", database_url)
        .env("JWT_SECRET", "crosscheck")
        .env("RUST_LOG", "warn")
        .env_remove("MAX_TAKE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (Running(child), base)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn get_json(agent: &ureq::Agent, url: &str) -> Value {
    let mut response = agent.get(url).call().unwrap();
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap();
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn run_program(program: &mut Command) -> Vec<Vec<Value>> {
    let out = program.output().expect("the evaluator runs");
    assert!(
        out.status.success(),
        "{program:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn crosscheck(backend: &str, database_url: &str) {
    let (dir, server, evaluate) = built();
    let (_server, base) = start(server, database_url, dir);
    let agent = agent();
    let fields = fields();
    let mut rng = Rng(0x5EED_0FC0_FFEE ^ backend.len() as u64);
    for _ in 0..ROWS {
        let mut response = agent
            .post(&format!("{base}/api/rows"))
            .header("Content-Type", "application/json")
            .send(row(&mut rng, &fields).to_string())
            .unwrap();
        let body = response.body_mut().read_to_string().unwrap();
        assert_eq!(response.status().as_u16(), 201, "{body}");
    }
    let rows = get_json(&agent, &format!("{base}/api/rows?take=100"))["items"].clone();
    assert_eq!(rows.as_array().unwrap().len(), ROWS);
    // Bigints beyond 2^53 through the TypeScript client, on this server (its rows are deleted again below).
    let output = Command::new("node")
        .arg(repo().join("tests/ts/bigint.mjs"))
        .arg(dir.join("clients/ts"))
        .arg(&base)
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && text.contains("BIGINT OK"),
        "[{backend}] bigints through the TypeScript client:\n{text}"
    );
    for row in get_json(&agent, &format!("{base}/api/rows?take=100&skip={ROWS}"))["items"]
        .as_array()
        .unwrap()
    {
        let response = agent
            .delete(&format!("{base}/api/rows/{}", row["id"]))
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 204);
    }

    let cases: Vec<Value> = (0..CASES)
        .map(|_| {
            json!({
                "where": if rng.chance(10) { Value::Null } else { filter(&mut rng, &fields, 0) },
                "orderBy": order_by(&mut rng, &fields),
            })
        })
        .collect();
    let input_path = dir.join(format!("crosscheck-input-{backend}.json"));
    let bigints: Vec<&str> = fields
        .iter()
        .filter(|f| f.scalar == Scalar::BigInt)
        .map(|f| f.name.as_str())
        .collect();
    std::fs::write(
        &input_path,
        json!({ "rows": rows, "cases": cases, "bigint": bigints }).to_string(),
    )
    .unwrap();
    let rust = run_program(Command::new(evaluate).arg(&input_path));
    let typescript = run_program(
        Command::new("node")
            .arg(repo().join("tests/ts/crosscheck.mjs"))
            .arg(dir.join("clients/ts"))
            .arg(&input_path),
    );

    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut query = format!("orderBy={}", encode(&case["orderBy"].to_string()));
        if !case["where"].is_null() {
            query.push_str(&format!("&where={}", encode(&case["where"].to_string())));
        }
        let page = get_json(&agent, &format!("{base}/api/rows?{query}&take=100"));
        let sql: Vec<Value> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect();
        if sql != rust[i] || sql != typescript[i] || page["total"] != json!(sql.len()) {
            failures.push(format!(
                "case {i}: {case}\n  sql:        {sql:?} (total {})\n  rust:       {:?}\n  typescript: {:?}",
                page["total"], rust[i], typescript[i]
            ));
            continue;
        }
        // A page of it: the server's paging cuts the same order.
        let skip = rng.below(sql.len() + 2);
        let take = 1 + rng.below(7);
        let paged = get_json(
            &agent,
            &format!("{base}/api/rows?{query}&skip={skip}&take={take}"),
        );
        let expected: Vec<Value> = sql.iter().skip(skip).take(take).cloned().collect();
        let got: Vec<Value> = paged["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect();
        if got != expected || paged["total"] != json!(sql.len()) {
            failures.push(format!(
                "case {i} page skip {skip} take {take}: {case}\n  got {got:?} (total {}), expected {expected:?}",
                paged["total"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "[{backend}] {} of {CASES} cases disagree:\n{}\nrows: {}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        rows
    );
}

fn node_ready() -> bool {
    let ready = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    common::available_or_skip(
        "the evaluation cross-check",
        if ready {
            Ok(())
        } else {
            Err("node is missing".to_owned())
        },
    )
}

#[test]
fn typescript_rust_and_sql_agree_on_sqlite() {
    if !node_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    crosscheck(
        "sqlite",
        &format!("sqlite://{}", dir.path().join("eval.db").display()),
    );
}

#[test]
fn typescript_rust_and_sql_agree_on_postgres() {
    if !node_ready() || !pg::available("the evaluation cross-check on PostgreSQL") {
        return;
    }
    let database = TestDatabase::create("ssot_gen_eval");
    crosscheck(
        "postgres",
        &format!("postgres://postgres@127.0.0.1:5432/{}", database.name),
    );
}
