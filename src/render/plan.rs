//! Which files the generated crate has, and which template renders each.

use minijinja::Value;

use crate::model::Graph;

/// One output file: its path in the generated crate, its template, and the context beside the global `graph`.
#[derive(Debug, Clone)]
pub struct Planned {
    pub path: String,
    pub template: &'static str,
    pub context: Value,
    /// For a per-model file, the index of its model in `graph.models`: the template sees it as `model`, taken
    /// from the graph's template value when rendering (so no second copy of every model is made).
    pub model: Option<usize>,
    /// A starting point the user owns (written once, never overwritten), not a generated file.
    pub user_owned: bool,
}

impl Planned {
    pub(super) fn new(path: impl Into<String>, template: &'static str, context: Value) -> Planned {
        Planned {
            path: path.into(),
            template,
            context,
            model: None,
            user_owned: false,
        }
    }

    fn of_model(self, index: usize) -> Planned {
        Planned {
            model: Some(index),
            ..self
        }
    }

    fn user_owned(path: impl Into<String>, template: &'static str, context: Value) -> Planned {
        Planned {
            user_owned: true,
            ..Planned::new(path, template, context)
        }
    }
}

/// Files every crate has, rendered once from the graph: (path, template). The schema-independent files are not
/// templates: they are copied from the runtime (`render::runtime`).
const CRATE_FILES: &[(&str, &str)] = &[
    ("Cargo.toml", "Cargo.toml.jinja"),
    ("README.md", "README.md.jinja"),
    (".gitignore", "gitignore.jinja"),
    ("admin/index.html", "admin/index.html.jinja"),
    (
        "ops/grafana-dashboard.json",
        "ops/grafana-dashboard.json.jinja",
    ),
    ("src/channels.rs", "src/channels.rs.jinja"),
    ("src/client/models.rs", "src/client/models.rs.jinja"),
    ("src/hooks/mod.rs", "src/hooks/mod.rs.jinja"),
    ("src/lib.rs", "src/lib.rs.jinja"),
    ("src/main.rs", "src/main.rs.jinja"),
    ("src/query.rs", "src/query.rs.jinja"),
    ("src/models/mod.rs", "src/models/mod.rs.jinja"),
    (
        "src/server/resources/mod.rs",
        "src/server/resources/mod.rs.jinja",
    ),
];

/// The rendered files of the generated crate, sorted by path. (`openapi.json`, `admin/models.json` and the manifest
/// are built in code; the runtime's files are copied.)
pub fn plan(graph: &Graph) -> Vec<Planned> {
    let none = || minijinja::context! {};
    let mut files: Vec<Planned> = CRATE_FILES
        .iter()
        .map(|(path, template)| Planned::new(*path, template, none()))
        .collect();
    if graph.models.iter().any(|m| m.realtime) {
        files.push(Planned::new(
            "examples/live.rs",
            "examples/live.rs.jinja",
            none(),
        ));
    }
    if !graph.enums.is_empty() {
        files.push(Planned::new("src/enums.rs", "src/enums.rs.jinja", none()));
    }
    for (index, model) in graph.models.iter().enumerate() {
        let stem = &model.file_stem;
        files.push(
            Planned::new(
                format!("src/models/{stem}.rs"),
                "src/models/model.rs.jinja",
                none(),
            )
            .of_model(index),
        );
        files.push(
            Planned::new(
                format!("src/server/resources/{stem}.rs"),
                "src/server/resources/model.rs.jinja",
                none(),
            )
            .of_model(index),
        );
        files.push(
            Planned::user_owned(
                format!("src/hooks/{stem}.rs"),
                "src/hooks/model.rs.jinja",
                none(),
            )
            .of_model(index),
        );
    }
    for dialect in ["sqlite", "postgres"] {
        let context = minijinja::context! { dialect => dialect };
        files.push(Planned::new(
            format!("migrations/{dialect}/0001_init.sql"),
            "migrations/init.sql.jinja",
            context,
        ));
    }
    files.extend(super::typescript::plan(graph));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}
