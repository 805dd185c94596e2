//! Model graph -> text, through minijinja templates. Templates are embedded in the binary; a caller may override
//! any of them by its path (`src/models/model.rs.jinja`). What each output file is, and which template renders it,
//! is decided by `plan`.

mod layout;
mod plan;
pub mod runtime;
pub mod typescript;
mod value;

pub use plan::{plan, Planned};

use std::collections::BTreeMap;
use std::fmt;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior, Value};

use crate::model::Graph;

/// A template that failed to render, or an override that does not replace any template.
#[derive(Debug)]
pub struct TemplateError {
    pub template: String,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "template `{}`: {}", self.template, self.message)
    }
}

impl std::error::Error for TemplateError {}

/// Built-in templates whose Rust output is already laid out as prettyplease prints it, so that formatting can
/// be skipped (see `format`; checked by `tests/preformatted.rs`). They are the ones rendered once per model, which
/// is where the time goes for a large schema. An override of one of them is formatted like any other template.
pub const PREFORMATTED: &[&str] = &[
    "src/hooks/model.rs.jinja",
    "src/models/model.rs.jinja",
    "src/server/resources/model.rs.jinja",
];

/// The template environment: embedded templates, then overrides on top.
pub struct Templates {
    env: Environment<'static>,
    overridden: Vec<String>,
}

impl Templates {
    /// `overrides` maps template paths (as listed by `names()`) to replacement sources.
    pub fn new(overrides: &BTreeMap<String, String>) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid");
        env.set_syntax(syntax);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_filter("rust_str", rust_str);
        env.add_filter("doc", doc_comment);
        env.add_function("field", layout::field);
        env.add_function("model_field", layout::model_field);
        env.add_function("array", layout::array);
        minijinja_embed::load_templates!(&mut env);
        let known = Self::names_of(&env);
        for (name, source) in overrides {
            if !known.contains(name) {
                let hint = crate::diagnostics::did_you_mean(name, known.iter().map(String::as_str))
                    .unwrap_or_else(|| format!("templates are: {}", known.join(", ")));
                return Err(TemplateError {
                    template: name.clone(),
                    message: format!("this override does not match any built-in template; {hint}"),
                });
            }
            env.add_template_owned(name.clone(), source.clone())
                .map_err(|e| template_error(name, &e))?;
        }
        Ok(Templates {
            env,
            overridden: overrides.keys().cloned().collect(),
        })
    }

    /// Whether `template` is a built-in `PREFORMATTED` one that was not overridden.
    pub fn preformatted(&self, template: &str) -> bool {
        PREFORMATTED.contains(&template) && !self.overridden.iter().any(|o| o == template)
    }

    fn names_of(env: &Environment) -> Vec<String> {
        let mut names: Vec<String> = env.templates().map(|(name, _)| name.to_owned()).collect();
        names.sort();
        names
    }

    /// Every template path, sorted.
    pub fn names(&self) -> Vec<String> {
        Self::names_of(&self.env)
    }

    /// The graph as a template value: converted once and shared by every render.
    pub fn graph_value(graph: &Graph) -> Value {
        value::graph_value(graph)
    }

    /// Renders one planned file; `graph` is `Templates::graph_value` of the graph the plan came from.
    pub fn render(&self, planned: &Planned, graph: &Value) -> Result<String, TemplateError> {
        let template = self
            .env
            .get_template(planned.template)
            .map_err(|e| template_error(planned.template, &e))?;
        let ctx = match planned.model {
            Some(index) => {
                let model = graph
                    .get_attr("models")
                    .and_then(|models| models.get_item_by_index(index))
                    .map_err(|e| template_error(planned.template, &e))?;
                minijinja::context! { graph => graph.clone(), model => model, ..planned.context.clone() }
            }
            None => minijinja::context! { graph => graph.clone(), ..planned.context.clone() },
        };
        template
            .render(ctx)
            .map_err(|e| template_error(planned.template, &e))
    }
}

fn template_error(name: &str, e: &minijinja::Error) -> TemplateError {
    // `{:#}` includes the template line and the source excerpt that minijinja keeps in debug mode.
    TemplateError {
        template: name.to_owned(),
        message: format!("{e:#}"),
    }
}

/// A Rust string literal.
fn rust_str(value: &str) -> String {
    format!("{value:?}")
}

/// A doc comment: each line of `value` prefixed with `///` (or `//!` when `inner` is true).
fn doc_comment(value: &str, inner: Option<bool>) -> String {
    let prefix = if inner.unwrap_or(false) { "//!" } else { "///" };
    value
        .trim_end()
        .lines()
        .map(|line| {
            if line.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix} {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
