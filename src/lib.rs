//! ssot-gen: one model schema in, a complete Rust crate out.
//!
//! The pipeline, one module per stage:
//! `schema` (YAML text -> located schema) -> `model` (validated model graph, every decision made) ->
//! `render` (minijinja templates) -> `format` (syn + prettyplease, `@generated` headers) -> `output` (write or
//! compare). This crate does no I/O except in `output`; the CLI in `main.rs` reads files and calls it.

pub mod admin;
pub mod diagnostics;
pub mod format;
pub mod model;
pub mod openapi;
pub mod output;
mod parallel;
pub mod render;
pub mod schema;

use std::collections::BTreeMap;
use std::fmt;

pub use diagnostics::Diagnostics;
pub use model::Graph;
pub use output::Generated;

/// The commented starter schema that `ssot-gen init` writes.
pub const STARTER_SCHEMA: &str = include_str!("../schemas/examples/starter.yaml");

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Template path -> replacement source, from `--templates DIR`.
    pub template_overrides: BTreeMap<String, String>,
    /// Format all Rust with syn and prettyplease, also the output of the built-in templates that is laid out
    /// already (`render::PREFORMATTED`). The result is the same, only slower; tests compare the two.
    pub format_all_rust: bool,
}

#[derive(Debug)]
pub enum Error {
    /// The schema is malformed or meaningless; every problem is listed.
    Schema(Diagnostics),
    Template(render::TemplateError),
    Format(format::FormatError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Schema(d) => d.fmt(f),
            Error::Template(e) => e.fmt(f),
            Error::Format(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

/// Reads and validates a schema. `file` is only used to name the file in error reports.
pub fn load(file: &str, text: &str) -> Result<Graph, Error> {
    let located = |items| Error::Schema(Diagnostics::new(file, text, items));
    let schema = schema::parse(text).map_err(located)?;
    model::build(&schema).map_err(located)
}

/// Renders the whole crate for a validated graph, formatted, with its manifest.
pub fn generate(graph: &Graph, options: &Options) -> Result<Generated, Error> {
    let templates = render::Templates::new(&options.template_overrides).map_err(Error::Template)?;
    let graph_value = render::Templates::graph_value(graph);
    let planned = render::plan(graph);
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
    files.insert("openapi.json".to_owned(), openapi);
    files.insert(admin::MODELS_JSON.to_owned(), admin::render(graph));
    let manifest = output::manifest::render(&format::header(&graph.generator), files.keys());
    files.insert(output::MANIFEST.to_owned(), manifest);
    Ok(Generated { files, user_files })
}

/// `load` then `generate`.
pub fn generate_from_str(file: &str, text: &str, options: &Options) -> Result<Generated, Error> {
    generate(&load(file, text)?, options)
}
