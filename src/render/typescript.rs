//! The TypeScript client package `clients/ts/` of the generated crate. Its schema-independent part (transports,
//! hybrid client, live lists, React hooks) is TypeScript source in this repository's `runtime/clients/ts/`,
//! compiled with `tsc --strict` and unit-tested there, its compiled `dist/` committed beside it (and checked by
//! `tests/typescript.rs` to be exactly what tsc emits); both are runtime files (`render::runtime`), copied as they
//! are. The schema-dependent part
//! (`models.ts`, `index.ts`) is rendered three times from one template each: the TypeScript source and the
//! JavaScript and declarations tsc would emit for it, so that a browser (or a bundler) loads the package from
//! `dist/` without a build step, and nobody needs node to generate a crate.

use minijinja::Value;

use super::plan::Planned;
use crate::model::Graph;

/// Where the package goes in the generated crate.
pub const DIR: &str = "clients/ts";

/// The schema-dependent modules, each rendered as `src/<m>.ts`, `dist/<m>.js` and `dist/<m>.d.ts`.
const GLUE: &[(&str, &str)] = &[
    ("index", "clients/ts/src/index.ts.jinja"),
    ("models", "clients/ts/src/models.ts.jinja"),
];

/// The package's rendered files.
pub fn plan(graph: &Graph) -> Vec<Planned> {
    let ts_pkg = Value::from(minijinja::value::Serde(crate::typescript::package(graph)));
    let mut files = vec![Planned::new(
        format!("{DIR}/package.json"),
        "clients/ts/package.json.jinja",
        minijinja::context! { ts_pkg => ts_pkg.clone() },
    )];
    for (module, template) in GLUE {
        for (path, out) in [
            (format!("{DIR}/src/{module}.ts"), "ts"),
            (format!("{DIR}/dist/{module}.js"), "js"),
            (format!("{DIR}/dist/{module}.d.ts"), "dts"),
        ] {
            files.push(Planned::new(
                path,
                template,
                minijinja::context! { ts_pkg => ts_pkg.clone(), out => out },
            ));
        }
    }
    files
}
