//! The built-in per-model templates (`render::PREFORMATTED`) are written so that their Rust is already what
//! prettyplease prints, and `generate` keeps it as it is instead of parsing and printing it again. These tests hold
//! that to account: for the example schemas, the benchmark's synthetic schemas and a schema whose names cross
//! every line-width threshold, generating with and without that shortcut gives byte-identical files; and for the
//! examples and the synthetic schemas, the shortcut is taken for every such file (so that it is not silently lost).

mod common;

#[path = "../benches/common/synthetic.rs"]
mod synthetic;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ssot_gen::{render, Graph, Options};

fn load(name: &str, text: &str) -> Graph {
    ssot_gen::load(name, text).unwrap_or_else(|e| panic!("{e}"))
}

/// Generating as usual and formatting everything give the same files.
fn assert_same_as_formatted(name: &str, graph: &Graph) {
    let fast = ssot_gen::generate(graph, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let formatted = ssot_gen::generate(
        graph,
        &Options {
            format_all_rust: true,
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for (path, contents) in formatted.files.iter().chain(&formatted.user_files) {
        let ours = fast
            .files
            .get(path)
            .or_else(|| fast.user_files.get(path))
            .unwrap();
        if ours != contents {
            let diff = similar::TextDiff::from_lines(contents, ours)
                .unified_diff()
                .header("prettyplease", "template")
                .to_string();
            panic!("{name}: `{path}` is not laid out as prettyplease prints it:\n{diff}");
        }
    }
    assert_eq!(fast, formatted, "{name}");
}

/// Every file of a `PREFORMATTED` template is accepted by `trusted_layout`, so formatting is really skipped.
fn assert_all_trusted(name: &str, graph: &Graph) {
    let templates = render::Templates::new(&BTreeMap::new()).unwrap();
    let value = render::Templates::graph_value(graph);
    let mut checked = 0;
    for planned in render::plan(graph) {
        if !templates.preformatted(planned.template) {
            continue;
        }
        let text = templates.render(&planned, &value).unwrap();
        let refused: Vec<&str> = text
            .lines()
            .filter(|l| !ssot_gen::format::trusted_layout(&format!("{l}\n")))
            .collect();
        assert!(
            refused.is_empty(),
            "{name}: `{}` would be formatted at run time because of {refused:#?}",
            planned.path
        );
        checked += 1;
    }
    assert_eq!(checked, 3 * graph.models.len(), "{name}");
}

#[test]
fn examples() {
    for example in common::EXAMPLES {
        let graph = load(example, &common::example_text(example));
        assert_same_as_formatted(example, &graph);
        assert_all_trusted(example, &graph);
    }
}

#[test]
fn synthetic_schemas() {
    for models in [10, 40] {
        let name = format!("synthetic-{models}");
        let graph = load(&name, &synthetic::synthetic_schema(models));
        assert_same_as_formatted(&name, &graph);
        assert_all_trusted(&name, &graph);
    }
}

/// Models, fields and enums whose names grow one letter at a time, so that every line the schema can lengthen
/// crosses prettyplease's margin (and the 34-column limit of a struct literal): the templates' own layout and the
/// fallback to formatting are both exercised.
fn sweep_schema() -> String {
    let mut s = String::from("crate: sweep\nroles: [admin]\nenums:\n");
    for len in (1..=40).step_by(3) {
        writeln!(s, "  E{}: [a, b]", "e".repeat(len)).unwrap();
    }
    s.push_str(
        "models:\n  User:\n    fields:\n      id: { type: uuid, id: true, default: uuid }\n",
    );
    s.push_str("  Lone:\n    fields:\n      id: { type: int, id: true, default: autoincrement }\n");
    s.push_str("  Pair:\n    fields:\n      id: { type: int, id: true, default: autoincrement }\n");
    s.push_str("      n: int\n");
    // A record read from a row stays one struct literal line up to 26 columns of fields.
    for len in 1..=6 {
        let key = "k".repeat(len);
        writeln!(s, "  S{key}:\n    fields:\n      {key}: {{ type: int, id: true, default: autoincrement }}").unwrap();
    }
    let ids = [
        "{ type: uuid, id: true, default: uuid }",
        "{ type: int, id: true, default: autoincrement }",
        "{ type: bigint, id: true, default: autoincrement }",
        "{ type: string, id: true }",
    ];
    let mut previous: Option<String> = None;
    for len in 1..=44 {
        let model = format!("M{}", "m".repeat(len));
        let f = format!("f{}X", "x".repeat(len));
        let e = format!("E{}", "e".repeat(1 + (len % 14) * 3));
        writeln!(s, "  {model}:").unwrap();
        // Doc comments are never broken, however long.
        writeln!(
            s,
            "    doc: \"Model {model}, {}.\"",
            "described at length ".repeat(len % 7)
        )
        .unwrap();
        writeln!(s, "    fields:").unwrap();
        writeln!(s, "      id: {}", ids[len % ids.len()]).unwrap();
        writeln!(s, "      {f}S: {{ type: string, min: 1, max: 20 }}").unwrap();
        writeln!(
            s,
            "      {f}T: {{ type: text?, max: 300, doc: \"Doc of {f}, {}.\" }}",
            "with more words ".repeat(len % 9)
        )
        .unwrap();
        writeln!(
            s,
            "      {f}I: {{ type: int, min: -5, max: 5, default: 0 }}"
        )
        .unwrap();
        writeln!(s, "      {f}B: bigint?").unwrap();
        writeln!(s, "      {f}F: {{ type: float?, min: 0.5 }}").unwrap();
        writeln!(s, "      {f}D: date?").unwrap();
        writeln!(s, "      {f}Dt: datetime?").unwrap();
        writeln!(s, "      {f}E: {{ type: {e}, default: a }}").unwrap();
        writeln!(s, "      {f}O: {e}?").unwrap();
        writeln!(s, "      {f}J: json?").unwrap();
        writeln!(s, "      {f}Q: bool").unwrap();
        writeln!(s, "      {f}U: {{ type: uuid, unique: true }}").unwrap();
        writeln!(
            s,
            "      {f}C: {{ type: datetime, default: now, readonly: true }}"
        )
        .unwrap();
        if len % 2 == 0 {
            writeln!(
                s,
                "      {f}Owner: {{ type: uuid, references: User, owner: true }}"
            )
            .unwrap();
        }
        if let Some(p) = &previous {
            let optional = if len % 3 == 0 { "?" } else { "" };
            let id = ["uuid", "int", "bigint", "string"][(len - 1) % 4];
            writeln!(
                s,
                "      {f}Ref: {{ type: {id}{optional}, references: {p} }}"
            )
            .unwrap();
        }
        let access = if len % 2 == 0 {
            "{ read: public, create: authenticated, update: [owner, admin], delete: admin }"
        } else {
            "{ read: authenticated, create: admin, update: admin, delete: admin }"
        };
        writeln!(s, "    access: {access}").unwrap();
        previous = Some(model);
    }
    s
}

#[test]
fn names_of_every_length() {
    let graph = load("sweep.yaml", &sweep_schema());
    assert_same_as_formatted("sweep", &graph);
}

/// An override of a `PREFORMATTED` template is formatted, however it is laid out.
#[test]
fn overrides_are_formatted() {
    let template = "src/server/resources/model.rs.jinja";
    assert!(render::PREFORMATTED.contains(&template));
    let mut overrides = BTreeMap::new();
    overrides.insert(
        template.to_owned(),
        "impl   crate::server::resource::Resource for crate::models::{{ model.types.record }} {}"
            .to_owned(),
    );
    let templates = render::Templates::new(&overrides).unwrap();
    assert!(!templates.preformatted(template));
    let graph = load("chat.yaml", &common::example_text("chat"));
    let generated = ssot_gen::generate(
        &graph,
        &Options {
            template_overrides: overrides,
            ..Options::default()
        },
    )
    .unwrap();
    assert!(generated.files["src/server/resources/message.rs"]
        .ends_with("\n\nimpl crate::server::resource::Resource for crate::models::Message {}\n"));
}
