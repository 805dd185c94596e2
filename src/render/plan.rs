//! Which files the generated crate has, and which template renders each.

use minijinja::value::Serde;
use minijinja::Value;

use crate::model::Graph;

/// One output file: its path in the generated crate, its template, and the context beside the global `graph`.
#[derive(Debug, Clone)]
pub struct Planned {
    pub path: String,
    pub template: &'static str,
    pub context: Value,
}

impl Planned {
    fn new(path: impl Into<String>, template: &'static str, context: Value) -> Planned {
        Planned {
            path: path.into(),
            template,
            context,
        }
    }
}

/// The files of the generated crate, sorted by path.
pub fn plan(graph: &Graph) -> Vec<Planned> {
    let none = || minijinja::context! {};
    let mut files = vec![
        Planned::new("Cargo.toml", "Cargo.toml.jinja", none()),
        Planned::new("README.md", "README.md.jinja", none()),
        Planned::new(".gitignore", "gitignore.jinja", none()),
        Planned::new("src/lib.rs", "src/lib.rs.jinja", none()),
        Planned::new("src/query.rs", "src/query.rs.jinja", none()),
        Planned::new("src/validation.rs", "src/validation.rs.jinja", none()),
        Planned::new("src/models/mod.rs", "src/models/mod.rs.jinja", none()),
    ];
    if !graph.enums.is_empty() {
        files.push(Planned::new("src/enums.rs", "src/enums.rs.jinja", none()));
    }
    for model in &graph.models {
        let context = minijinja::context! { model => Value::from(Serde(model)) };
        files.push(Planned::new(
            format!("src/models/{}.rs", model.file_stem),
            "src/models/model.rs.jinja",
            context,
        ));
    }
    for dialect in ["sqlite", "postgres"] {
        let context = minijinja::context! { dialect => dialect };
        files.push(Planned::new(
            format!("migrations/{dialect}/0001_init.sql"),
            "migrations/init.sql.jinja",
            context,
        ));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}
