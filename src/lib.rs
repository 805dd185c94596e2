//! ssot-gen: one model schema in, a complete Rust crate out.
//!
//! The pipeline, one module per stage:
//! `schema` (YAML text -> located schema) -> `model` (validated model graph, every decision made) ->
//! `render` (minijinja templates) -> `format` (syn + prettyplease, `@generated` headers) -> `output` (write or
//! compare). This crate does no I/O except in `output`; the CLI in `main.rs` reads files and calls it.

pub mod admin;
pub mod diagnostics;
pub mod format;
pub mod migrate;
pub mod model;
pub mod openapi;
pub mod output;
mod parallel;
pub mod render;
pub mod schema;
pub mod typescript;

use std::collections::BTreeMap;
use std::fmt;

pub use diagnostics::Diagnostics;
pub use model::Graph;
pub use output::Generated;

/// The commented starter schema that `ssot-gen init` writes.
pub const STARTER_SCHEMA: &str = include_str!("../schemas/examples/starter.yaml");

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Template path (or runtime file path) -> replacement source, from `--templates DIR`.
    pub template_overrides: BTreeMap<String, String>,
    /// Format all Rust with syn and prettyplease, also the output of the built-in templates that is laid out
    /// already (`render::PREFORMATTED`). The result is the same, only slower; tests compare the two.
    pub format_all_rust: bool,
    /// The output folder's migration history, which the next migration continues; empty for a new crate.
    pub history: migrate::History,
    /// `--name`: the name of the migration written if the schema's storage changed (else derived from the change).
    pub migration_name: Option<String>,
    /// `--accept-data-loss`: write a migration that drops tables or columns or narrows a type.
    pub accept_data_loss: bool,
}

#[derive(Debug)]
pub enum Error {
    /// The schema is malformed or meaningless; every problem is listed.
    Schema(Diagnostics),
    Template(render::TemplateError),
    Format(format::FormatError),
    /// The migration history cannot be continued (see `migrate`); says what to do.
    History(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Schema(d) => d.fmt(f),
            Error::Template(e) => e.fmt(f),
            Error::Format(e) => e.fmt(f),
            Error::History(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

/// Reads and validates a schema. `file` is only used to name the file in error reports.
pub fn load(file: &str, text: &str) -> Result<Graph, Error> {
    let located = |items| Error::Schema(Diagnostics::new(file, text, items));
    let schema = schema::parse(text).map_err(located)?;
    let mut graph = model::build(&schema).map_err(located)?;
    // A migration refused later (data loss, a missing backfill) is reported against this text.
    graph.hints.source = Some(std::sync::Arc::new(model::hints::Source {
        file: file.to_owned(),
        text: text.to_owned(),
    }));
    Ok(graph)
}

/// Renders the whole crate for a validated graph, formatted, with its manifest.
pub fn generate(graph: &Graph, options: &Options) -> Result<Generated, Error> {
    // An override whose path is a runtime file replaces that file; every other one must name a template.
    let (runtime_overrides, template_overrides): (BTreeMap<_, _>, BTreeMap<_, _>) = options
        .template_overrides
        .iter()
        .map(|(path, source)| (path.clone(), source.clone()))
        .partition(|(path, _)| render::runtime::file(path).is_some());
    let templates = render::Templates::new(&template_overrides).map_err(Error::Template)?;
    let migrations = migrate::plan(graph, options)?;
    let graph_value = render::Templates::graph_value(graph);
    let mut planned = render::plan(graph);
    planned.push(migrations.glue(graph));
    planned.sort_by(|a, b| a.path.cmp(&b.path));
    // Rendering and formatting dominate generation time and each file is independent: spread them over the
    // cores. Results are kept in plan order, so output and the error reported are the same on every run. The
    // OpenAPI document, built in code, is written meanwhile on a thread of its own.
    let (results, openapi) = std::thread::scope(|scope| {
        let openapi = scope.spawn(|| openapi::json(graph));
        let results = parallel::map(&planned, |p| {
            let text = templates.render(p, &graph_value).map_err(Error::Template)?;
            let rust = if templates.preformatted(p.template) && !options.format_all_rust {
                format::Rust::Preformatted
            } else {
                format::Rust::Format
            };
            if p.user_owned {
                format::user_file(&p.path, p.template, text, rust).map_err(Error::Format)
            } else {
                format::finish(&p.path, p.template, text, &graph.generator, rust)
                    .map_err(Error::Format)
            }
        });
        let openapi = openapi
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (results, openapi)
    });
    let mut files = BTreeMap::new();
    let mut user_files = BTreeMap::new();
    for (p, contents) in planned.iter().zip(results) {
        let target = if p.user_owned {
            &mut user_files
        } else {
            &mut files
        };
        target.insert(p.path.clone(), contents?);
    }
    for file in render::runtime::FILES {
        let source = runtime_overrides
            .get(file.path)
            .map_or(file.source, String::as_str);
        files.insert(
            file.path.to_owned(),
            format::verbatim(file.path, source, &graph.generator),
        );
    }
    files.insert("openapi.json".to_owned(), openapi);
    files.insert(admin::MODELS_JSON.to_owned(), admin::render(graph));
    let migrations = migrations.finish(&mut files, graph)?;
    let manifest = output::manifest::render(&format::header(&graph.generator), files.keys());
    files.insert(output::MANIFEST.to_owned(), manifest);
    Ok(Generated {
        files,
        user_files,
        migrations,
    })
}

/// The generated crate as the runtime's own folder holds it (see `render::runtime::MARKER`): there the runtime's
/// files are the source, so they are left out, of the files and of the manifest.
pub fn without_runtime(mut generated: Generated, graph: &Graph) -> Generated {
    for file in render::runtime::FILES {
        generated.files.remove(file.path);
    }
    generated.files.remove(output::MANIFEST);
    let manifest =
        output::manifest::render(&format::header(&graph.generator), generated.files.keys());
    generated
        .files
        .insert(output::MANIFEST.to_owned(), manifest);
    generated
}

/// `load` then `generate`.
pub fn generate_from_str(file: &str, text: &str, options: &Options) -> Result<Generated, Error> {
    generate(&load(file, text)?, options)
}
