//! Generation benchmark on synthetic schemas of 10, 100 and 1000 models.
//!
//! Groups (all with `Throughput::Elements(models)`):
//! - `load`: parse + validate only (`ssot_gen::load`);
//! - `generate_in_memory`: `load` + `generate` (templates, syn + prettyplease), no I/O;
//! - `cli`: the release binary `ssot-gen generate <schema> -o <fresh dir>`, end to end including process start,
//!   reading the schema and writing every file;
//! - `write_only`: the baseline for `cli`, writing the already generated files of the same schema to a fresh
//!   directory with `std::fs` (the I/O floor of a CLI run).
//!
//! Run with `cargo bench --bench generate`; results are summarised in `docs/benchmarks.md`. Environment:
//! `SSOT_BENCH_OUT=DIR` puts the `cli` and `write_only` output folders under DIR (default: the system temp folder);
//! `SSOT_BENCH_SCHEMAS=DIR` also writes the synthetic schemas there, for profiling the CLI by hand.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, BenchmarkId, Criterion,
    SamplingMode, Throughput,
};
use ssot_gen::{Generated, Options};

const SIZES: &[usize] = &[10, 100, 1000];

/// Model name stems; the model index is appended, so names stay unique and pluralize regularly.
const STEMS: &[&str] = &[
    "Project", "Task", "Comment", "Invoice", "Order", "Document", "Event", "Ticket",
];

/// Deterministic pseudo-random choice in `0..n` for model `i`, salt `salt` (no RNG dependency, same schema on
/// every run).
fn pick(i: usize, salt: u64, n: usize) -> usize {
    let mut x =
        (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 29;
    (x % n as u64) as usize
}

/// Name of synthetic model `i` (1-based; model 0 is `User`).
fn model_name(i: usize) -> String {
    format!("{}{i}", STEMS[i % STEMS.len()])
}

/// Id type of synthetic model `i`: uuid ids for even models, autoincrement ints for odd ones.
fn id_type(i: usize) -> &'static str {
    if i % 2 == 0 {
        "uuid"
    } else {
        "int"
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// A schema of `models` models: a `User` model plus `models - 1` models with a realistic mix of fields (uuid and
/// int ids, bounded strings, text, optional datetimes, two enums, a bool, a json, a bounded int), references to
/// one or two earlier models (some optional, so relations and inverse relations are exercised), an owner field
/// referencing `User` on three models in four, and per-operation access rules using owner, self and roles.
fn synthetic_schema(models: usize) -> String {
    assert!(
        models >= 2,
        "the synthetic schema needs at least the User model and one other"
    );
    let mut s = String::new();
    writeln!(s, "# Synthetic benchmark schema: {models} models.").unwrap();
    writeln!(s, "crate: synthetic-{models}").unwrap();
    writeln!(
        s,
        "description: Synthetic schema of {models} models for the generation benchmark."
    )
    .unwrap();
    writeln!(s, "roles: [admin, editor]").unwrap();
    writeln!(s, "enums:").unwrap();
    writeln!(s, "  Status: [draft, active, archived]").unwrap();
    writeln!(s, "  Priority:").unwrap();
    writeln!(s, "    values: [low, medium, high, urgent]").unwrap();
    writeln!(s, "    doc: How urgent a row is.").unwrap();
    writeln!(s, "models:").unwrap();
    writeln!(s, "  User:").unwrap();
    writeln!(s, "    doc: A person who signs in.").unwrap();
    writeln!(s, "    fields:").unwrap();
    writeln!(
        s,
        "      id:           {{ type: uuid, id: true, default: uuid }}"
    )
    .unwrap();
    writeln!(
        s,
        "      email:        {{ type: string, unique: true, max: 254 }}"
    )
    .unwrap();
    writeln!(
        s,
        "      name:         {{ type: string, min: 1, max: 100 }}"
    )
    .unwrap();
    writeln!(s, "      passwordHash: {{ type: string, hidden: true }}").unwrap();
    writeln!(s, "      lastSeenAt:   datetime?").unwrap();
    writeln!(
        s,
        "      createdAt:    {{ type: datetime, default: now, readonly: true }}"
    )
    .unwrap();
    writeln!(s, "    access: {{ read: authenticated, create: admin, update: [self, admin], delete: admin }}").unwrap();

    for i in 1..models {
        let name = model_name(i);
        let owned = i % 4 != 0;
        writeln!(s, "  {name}:").unwrap();
        if i % 5 == 0 {
            writeln!(s, "    doc: Synthetic model number {i}.").unwrap();
        }
        if i % 7 == 0 {
            writeln!(s, "    realtime: false").unwrap();
        }
        writeln!(s, "    fields:").unwrap();
        match id_type(i) {
            "uuid" => writeln!(s, "      id: {{ type: uuid, id: true, default: uuid }}").unwrap(),
            _ => writeln!(
                s,
                "      id: {{ type: int, id: true, default: autoincrement }}"
            )
            .unwrap(),
        }
        writeln!(s, "      title: {{ type: string, min: 1, max: 200 }}").unwrap();
        writeln!(
            s,
            "      slug: {{ type: string, unique: true, max: 80, doc: \"URL name of the row.\" }}"
        )
        .unwrap();
        writeln!(s, "      body: text?").unwrap();
        writeln!(s, "      status: {{ type: Status, default: draft }}").unwrap();
        if i % 3 == 0 {
            writeln!(s, "      priority: Priority?").unwrap();
        }
        writeln!(s, "      pinned: {{ type: bool, default: false }}").unwrap();
        writeln!(
            s,
            "      metadata: {{ type: json, default: {{ tags: [], version: 1 }} }}"
        )
        .unwrap();
        writeln!(
            s,
            "      position: {{ type: int, min: 0, max: 100000, default: 0 }}"
        )
        .unwrap();
        if i % 2 == 1 {
            writeln!(s, "      score: {{ type: float, min: 0, max: 1 }}").unwrap();
        }
        writeln!(s, "      dueAt: datetime?").unwrap();
        writeln!(
            s,
            "      publishedAt: {{ type: datetime?, hidden: {} }}",
            i % 6 == 0
        )
        .unwrap();
        writeln!(
            s,
            "      createdAt: {{ type: datetime, default: now, readonly: true }}"
        )
        .unwrap();
        if owned {
            writeln!(
                s,
                "      ownerId: {{ type: uuid, references: User, owner: true }}"
            )
            .unwrap();
        } else {
            // A non-owner reference to the user model: a second relation into `User`.
            writeln!(s, "      reviewerId: {{ type: uuid?, references: User }}").unwrap();
        }
        // References to earlier models: the previous one (a chain), and for most models one further back.
        if i >= 2 {
            let parent = i - 1;
            let optional = if i % 3 == 0 { "?" } else { "" };
            writeln!(
                s,
                "      {}Id: {{ type: {}{optional}, references: {} }}",
                lower_first(&model_name(parent)),
                id_type(parent),
                model_name(parent)
            )
            .unwrap();
        }
        if i >= 3 && i % 4 != 3 {
            let other = 1 + pick(i, 1, i - 2); // in 1..=i-2, never the parent
            writeln!(
                s,
                "      {}Id: {{ type: {}?, references: {} }}",
                lower_first(&model_name(other)),
                id_type(other),
                model_name(other)
            )
            .unwrap();
        }
        let access = match (owned, i % 3) {
            (true, 0) => "{ read: public, create: authenticated, update: [owner, admin], delete: [owner, admin] }",
            (true, 1) => "{ read: authenticated, create: authenticated, update: owner, delete: [owner, admin] }",
            (true, _) => "{ read: [owner, editor], create: [authenticated], update: [owner, editor], delete: admin }",
            (false, _) => "{ read: public, create: [editor, admin], update: editor, delete: admin }",
        };
        writeln!(s, "    access: {access}").unwrap();
    }
    s
}

/// Loads and checks a synthetic schema before anything is measured; panics with the diagnostics if invalid.
fn checked_schema(models: usize) -> String {
    let text = synthetic_schema(models);
    let graph = ssot_gen::load(&format!("synthetic-{models}.yaml"), &text)
        .unwrap_or_else(|e| panic!("synthetic schema of {models} models does not validate:\n{e}"));
    assert_eq!(
        graph.models.len(),
        models,
        "synthetic schema has the wrong number of models"
    );
    assert!(
        graph.models.iter().any(|m| !m.inverse_relations.is_empty()),
        "synthetic schema exercises no inverse relations"
    );
    text
}

fn tuned<'c>(c: &'c mut Criterion, group: &str, models: usize) -> BenchmarkGroup<'c, WallTime> {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(models as u64));
    if models >= 1000 {
        g.sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(15));
    } else if models >= 100 {
        g.sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(6));
    } else {
        g.sample_size(30)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
    }
    g
}

/// A fresh, empty output folder. Created under `SSOT_BENCH_OUT` when set (e.g. a tmpfs such as `/dev/shm`, to
/// separate the generator's cost from the file system's), else in the system temp folder.
fn out_dir() -> tempfile::TempDir {
    match std::env::var_os("SSOT_BENCH_OUT") {
        Some(root) => tempfile::tempdir_in(root),
        None => tempfile::tempdir(),
    }
    .expect("temp dir for output")
}

/// Writes what a CLI run into an empty folder writes: the generated files and the user-owned starting points.
fn write_files(generated: &Generated, dir: &Path) {
    for (path, contents) in generated.files.iter().chain(&generated.user_files) {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).expect("create output folder");
        }
        std::fs::write(&target, contents).expect("write output file");
    }
}

fn benches(c: &mut Criterion) {
    let options = Options::default();
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_ssot-gen"));
    let schemas_dir = tempfile::tempdir().expect("temp dir for schemas");

    for &models in SIZES {
        let text = checked_schema(models);
        let file = format!("synthetic-{models}.yaml");
        let schema_path = schemas_dir.path().join(&file);
        std::fs::write(&schema_path, &text).expect("write schema");
        // For profiling the CLI by hand: `SSOT_BENCH_SCHEMAS=DIR cargo bench --bench generate -- --test`.
        if let Some(dir) = std::env::var_os("SSOT_BENCH_SCHEMAS") {
            std::fs::write(Path::new(&dir).join(&file), &text).expect("write schema copy");
        }
        let generated = ssot_gen::generate_from_str(&file, &text, &options)
            .expect("synthetic schema generates");
        let all_files = || generated.files.iter().chain(&generated.user_files);
        let bytes: usize = all_files().map(|(_, contents)| contents.len()).sum();
        eprintln!(
            "synthetic-{models}: {} schema bytes, {} files, {} generated bytes",
            text.len(),
            all_files().count(),
            bytes
        );

        // The CLI must succeed (and write what the library generates) before it is measured.
        let check_dir = out_dir();
        let status = Command::new(&exe)
            .arg("generate")
            .arg(&schema_path)
            .arg("-o")
            .arg(check_dir.path())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run ssot-gen");
        assert!(status.success(), "ssot-gen generate failed on {file}");
        for (path, contents) in all_files() {
            let written =
                std::fs::read_to_string(check_dir.path().join(path)).expect("CLI wrote every file");
            assert!(
                written == *contents,
                "CLI output of {path} differs from the library's"
            );
        }
        drop(check_dir);

        let mut g = tuned(c, "load", models);
        g.bench_function(BenchmarkId::from_parameter(models), |b| {
            b.iter(|| ssot_gen::load(black_box(&file), black_box(&text)).unwrap())
        });
        g.finish();

        let mut g = tuned(c, "generate_in_memory", models);
        g.bench_function(BenchmarkId::from_parameter(models), |b| {
            b.iter(|| {
                ssot_gen::generate_from_str(black_box(&file), black_box(&text), &options).unwrap()
            })
        });
        g.finish();

        // Fresh output folder per iteration, created and removed outside the timing.
        let mut g = tuned(c, "write_only", models);
        g.bench_function(BenchmarkId::from_parameter(models), |b| {
            b.iter_batched_ref(
                || out_dir(),
                |dir| write_files(&generated, dir.path()),
                BatchSize::PerIteration,
            )
        });
        g.finish();

        let mut g = tuned(c, "cli", models);
        g.bench_function(BenchmarkId::from_parameter(models), |b| {
            b.iter_batched_ref(
                || out_dir(),
                |dir| {
                    let status = Command::new(&exe)
                        .arg("generate")
                        .arg(&schema_path)
                        .arg("-o")
                        .arg(dir.path())
                        .stdout(std::process::Stdio::null())
                        .status()
                        .expect("run ssot-gen");
                    assert!(status.success());
                },
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

criterion_group!(generate, benches);
criterion_main!(generate);
