//! The `ssot-gen` command: reads files, calls the library, writes or compares, and sets the exit code
//! (0 done / up to date, 1 stale, 2 bad input or failure).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use ssot_gen::migrate;
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
    /// Generate the crate into the output folder, with the next migration if the schema's storage changed.
    Generate(GenerateArgs),
    /// Compare the output folder with what would be generated: exit 0 up to date, 1 stale (with a diff, or the
    /// migration that generating would write, or a committed migration that was edited), 2 error.
    Check(Target),
    /// List the built-in templates and runtime files, which `--templates DIR` can replace by path.
    Templates,
}

#[derive(clap::Args)]
struct GenerateArgs {
    #[command(flatten)]
    target: Target,
    /// Name of the migration written if the schema's storage changed [default: derived from the change, such as
    /// `add_message_pinned`]
    #[arg(long)]
    name: Option<String>,
    /// Write a migration that destroys data (drops a model or a field, narrows a type); without it such a change
    /// is refused.
    #[arg(long)]
    accept_data_loss: bool,
}

#[derive(clap::Args)]
struct Target {
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
            // Nowhere left to report a failure to write the report: the exit code still tells.
            let _ = writeln!(io::stderr().lock(), "{e:#}");
            ExitCode::from(2)
        }
    }
}

/// `println!` that does not panic when the reader has gone (`ssot-gen check | head -1`): a closed pipe drops the
/// rest of the output and the command ends with its own exit code. Any other failure to write is an error (2).
macro_rules! say {
    ($($arg:tt)*) => { write_line(io::stdout().lock(), "standard output", format_args!($($arg)*)) };
}

/// `say!` for standard error (the stale-output summary of `check`).
macro_rules! complain {
    ($($arg:tt)*) => { write_line(io::stderr().lock(), "standard error", format_args!($($arg)*)) };
}

fn write_line(mut stream: impl Write, name: &str, line: std::fmt::Arguments) -> Result<()> {
    match writeln!(stream, "{line}") {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context(format!("writing to {name}")))
        }
        _ => Ok(()),
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
            say!(
                "wrote {}; next: ssot-gen generate {}",
                path.display(),
                path.display()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { schema } => {
            let graph = load(&schema)?;
            say!(
                "{}: ok ({} models, {} enums)",
                schema.display(),
                graph.models.len(),
                graph.enums.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(args) => {
            let (generated, out) =
                generate(&args.target, args.name.clone(), args.accept_data_loss)?;
            let history = &generated.migrations;
            if !history.damaged.is_empty() {
                for damage in &history.damaged {
                    complain!(
                        "error: {}: {}",
                        out.join(&damage.path).display(),
                        damage.problem
                    )?;
                }
                complain!("{}: nothing written", out.display())?;
                return Ok(ExitCode::from(2));
            }
            let report = output::write(&generated, &out)?;
            say!(
                "{}: {} written, {} unchanged, {} removed, {} created for you to edit",
                out.display(),
                report.written.len(),
                report.unchanged,
                report.removed.len(),
                report.created_for_user.len()
            )?;
            if history.adopted {
                say!(
                    "recorded {} for the existing {} migrations",
                    migrate::LOCK_PATH,
                    migrate::INIT
                )?;
            }
            match &history.written {
                Some(written) => {
                    say!("wrote migration {}:", written.name)?;
                    print_migration(written)?;
                    say!(
                        "review migrations/{{sqlite,postgres}}/{}.sql, then commit them with the schema",
                        written.name
                    )?;
                }
                None if args.name.is_some() => {
                    say!("the storage did not change: no migration written, --name not used")?
                }
                None => {}
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check(target) => {
            // With data loss accepted, so that the migration generating would write can be shown whatever it does.
            let (generated, out) = generate(&target, None, true)?;
            let changes = output::compare(&generated, &out)?;
            let history = &generated.migrations;
            for damage in &history.damaged {
                say!("damaged: {}: {}", damage.path, damage.problem)?;
            }
            if let Some(written) = &history.written {
                say!(
                    "the schema's storage changed and no migration was written; `ssot-gen generate{}` would write {}:",
                    if written.data_loss.is_empty() { "" } else { " --accept-data-loss" },
                    written.name
                )?;
                print_migration(written)?;
            }
            if changes.is_empty() && history.damaged.is_empty() {
                say!("{}: up to date", out.display())?;
                return Ok(ExitCode::SUCCESS);
            }
            for change in &changes {
                match change {
                    Change::Missing(path) => say!("missing: {path}")?,
                    Change::Orphaned(path) => say!("orphaned (no longer generated): {path}")?,
                    Change::Stale { path, diff } => say!("stale: {path}\n{diff}")?,
                }
            }
            if !history.damaged.is_empty() {
                complain!(
                    "{}: {} migration file(s) differ from {}",
                    out.display(),
                    history.damaged.len(),
                    migrate::LOCK_PATH
                )?;
            }
            if !changes.is_empty() {
                complain!(
                    "{}: {} file(s) differ from the schema; run `ssot-gen generate` and commit the result",
                    out.display(),
                    changes.len()
                )?;
            }
            Ok(ExitCode::from(1))
        }
        Command::Templates => {
            let templates = ssot_gen::render::Templates::new(&BTreeMap::new())?;
            let mut names = templates.names();
            names.extend(
                ssot_gen::render::runtime::FILES
                    .iter()
                    .map(|file| format!("{} (runtime: copied as it is)", file.path)),
            );
            names.sort();
            for name in names {
                say!("{name}")?;
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

/// Generates the crate for `target`, continuing the migration history of its output folder.
fn generate(
    target: &Target,
    migration_name: Option<String>,
    accept_data_loss: bool,
) -> Result<(ssot_gen::Generated, PathBuf)> {
    let graph = load(&target.schema)?;
    let out = target
        .out
        .clone()
        .unwrap_or_else(|| Path::new("generated").join(&graph.crate_name));
    let options = Options {
        template_overrides: read_overrides(target.templates.as_deref())?,
        history: output::read_history(&out)?,
        migration_name,
        accept_data_loss,
        ..Options::default()
    };
    let mut generated = ssot_gen::generate(&graph, &options)?;
    if out.join(ssot_gen::render::runtime::MARKER).exists() {
        generated = ssot_gen::without_runtime(generated, &graph);
    }
    Ok((generated, out))
}

/// What a migration does and destroys, one line each.
fn print_migration(written: &migrate::Written) -> Result<()> {
    for change in &written.changes {
        say!("  - {change}")?;
    }
    for loss in &written.data_loss {
        say!("  DATA LOSS: {loss}")?;
    }
    Ok(())
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
