//! The `ssot-gen` command: reads files, calls the library, writes or compares, and sets the exit code
//! (0 done / up to date, 1 stale, 2 bad input or failure).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ssot_gen::output::{self, Change};
use ssot_gen::Options;

#[derive(Parser)]
#[command(
    name = "ssot-gen",
    version,
    about = "Generate a complete Rust crate from one model schema"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a commented starter schema.
    Init {
        /// Where to write it.
        #[arg(default_value = "schema.yaml")]
        path: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Check a schema and report every problem with its position.
    Validate { schema: PathBuf },
    /// Generate the crate into the output folder.
    Generate(GenerateArgs),
    /// Compare the output folder with what would be generated: exit 0 up to date, 1 stale (with a diff), 2 error.
    Check(GenerateArgs),
    /// List the built-in templates, which `--templates DIR` can override by path.
    Templates,
}

#[derive(clap::Args)]
struct GenerateArgs {
    schema: PathBuf,
    /// Output folder [default: generated/<crate name>]
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Folder of template overrides, laid out like the built-in templates (see `ssot-gen templates`).
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

// Generation allocates and frees millions of small values (template values, the OpenAPI tree) on several
// threads; mimalloc does that markedly faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Init { path, force } => {
            if path.exists() && !force {
                bail!(
                    "{} already exists; pass --force to overwrite it",
                    path.display()
                );
            }
            std::fs::write(&path, ssot_gen::STARTER_SCHEMA)
                .with_context(|| format!("writing {}", path.display()))?;
            println!(
                "wrote {}; next: ssot-gen generate {}",
                path.display(),
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { schema } => {
            let graph = load(&schema)?;
            println!(
                "{}: ok ({} models, {} enums)",
                schema.display(),
                graph.models.len(),
                graph.enums.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(args) => {
            let (generated, out) = generate(&args)?;
            let report = output::write(&generated, &out)?;
            println!(
                "{}: {} written, {} unchanged, {} removed, {} created for you to edit",
                out.display(),
                report.written.len(),
                report.unchanged,
                report.removed.len(),
                report.created_for_user.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check(args) => {
            let (generated, out) = generate(&args)?;
            let changes = output::compare(&generated, &out)?;
            if changes.is_empty() {
                println!("{}: up to date", out.display());
                return Ok(ExitCode::SUCCESS);
            }
            for change in &changes {
                match change {
                    Change::Missing(path) => println!("missing: {path}"),
                    Change::Orphaned(path) => println!("orphaned (no longer generated): {path}"),
                    Change::Stale { path, diff } => println!("stale: {path}\n{diff}"),
                }
            }
            eprintln!(
                "{}: {} file(s) differ from the schema; run `ssot-gen generate` and commit the result",
                out.display(),
                changes.len()
            );
            Ok(ExitCode::from(1))
        }
        Command::Templates => {
            let templates = ssot_gen::render::Templates::new(&BTreeMap::new())?;
            for name in templates.names() {
                println!("{name}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(schema: &Path) -> Result<ssot_gen::Graph> {
    let text =
        std::fs::read_to_string(schema).with_context(|| format!("reading {}", schema.display()))?;
    Ok(ssot_gen::load(&schema.display().to_string(), &text)?)
}

fn generate(args: &GenerateArgs) -> Result<(ssot_gen::Generated, PathBuf)> {
    let graph = load(&args.schema)?;
    let options = Options {
        template_overrides: read_overrides(args.templates.as_deref())?,
        ..Options::default()
    };
    let generated = ssot_gen::generate(&graph, &options)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("generated").join(&graph.crate_name));
    Ok((generated, out))
}

/// Every file under `dir`, keyed by its path relative to `dir` with `/` separators (the template's name).
fn read_overrides(dir: Option<&Path>) -> Result<BTreeMap<String, String>> {
    let mut overrides = BTreeMap::new();
    let Some(dir) = dir else { return Ok(overrides) };
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries =
            std::fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let name = path
                .strip_prefix(dir)?
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let source = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            overrides.insert(name, source);
        }
    }
    Ok(overrides)
}
