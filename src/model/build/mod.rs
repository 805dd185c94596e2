//! Schema -> model graph. Checks meaning (types exist, references resolve, names do not collide, rules make
//! sense) and makes every naming and SQL decision. All problems are collected, each with its position.
//!
//! One file per job: `enums`, `models` (names, ids, the model itself), `fields` (types, defaults, bounds, what each
//! input takes), `access` (roles and rules) and `relations` (the names of references seen from their target).

mod access;
mod api;
mod enums;
mod fields;
mod hints;
mod models;
mod relations;

use std::collections::BTreeMap;

use super::formats::is_version;
use super::*;
use crate::diagnostics::{Diagnostic, Loc};
use crate::schema::{FieldSpec, ModelSpec, Schema};

pub fn build(schema: &Schema) -> Result<Graph, Vec<Diagnostic>> {
    let mut b = Builder {
        problems: Vec::new(),
    };
    let graph = b.graph(schema);
    if b.problems.is_empty() {
        Ok(graph)
    } else {
        Err(b.problems)
    }
}

struct Builder {
    problems: Vec<Diagnostic>,
}

/// What other models need to know about a model before its fields are built.
struct ModelInfo<'s> {
    spec: &'s ModelSpec,
    rust_name: String,
    plural: String,
    table: String,
    id: Option<(&'s FieldSpec, Scalar)>,
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

impl Builder {
    fn problem(&mut self, d: Diagnostic) {
        self.problems.push(d);
    }

    /// Reports a second use of a derived name, pointing at the later definition and naming the first.
    fn claim(
        &mut self,
        seen: &mut BTreeMap<String, (String, Loc)>,
        key: String,
        owner: String,
        loc: Loc,
        what: &str,
    ) -> bool {
        if let Some((first, first_loc)) = seen.get(&key) {
            let message = format!("{owner} and {first} both become the {what} `{key}`");
            let hint = format!(
                "rename one of them; {first} is at line {}, column {}",
                first_loc.line, first_loc.column
            );
            self.problem(Diagnostic::new(loc, message).hint(hint));
            false
        } else {
            seen.insert(key, (owner, loc));
            true
        }
    }

    fn graph(&mut self, schema: &Schema) -> Graph {
        let crate_name = match &schema.crate_name {
            Some(name) if is_identifier(&name.value.replace('-', "_")) => name.value.clone(),
            Some(name) => {
                self.problem(
                    Diagnostic::new(name.loc, format!("`{}` is not a valid crate name", name.value))
                        .hint("use letters, digits, `-` and `_`, starting with a letter (e.g. `chat-api`)"),
                );
                name.value.clone()
            }
            None => String::new(), // already reported by the reader
        };
        let version = match &schema.version {
            Some(v) if is_version(&v.value) => v.value.clone(),
            Some(v) => {
                self.problem(
                    Diagnostic::new(v.loc, format!("`{}` is not a semantic version", v.value))
                        .hint("write three numbers, e.g. `version: 0.1.0`"),
                );
                v.value.clone()
            }
            None => "0.1.0".to_owned(),
        };
        let roles = self.roles(schema);
        let enums = self.enums(schema);
        let infos = self.model_infos(schema, &enums);
        let user_model = self.user_model(schema, &infos);
        let user_id_type = user_model
            .as_ref()
            .and_then(|u| infos.get(u))
            .and_then(|i| i.id.map(|(_, s)| s));

        let mut models: Vec<Model> = infos
            .values()
            .map(|info| {
                self.model(
                    info,
                    &infos,
                    &enums,
                    &roles,
                    user_model.as_deref(),
                    user_id_type,
                )
            })
            .collect();
        self.resolve_inverses(&mut models, &infos);
        relations::includes(&mut models);
        models.sort_by(|a, b| a.name.cmp(&b.name));
        let hints = self.hints(schema, &enums);
        let enums: Vec<Enum> = enums.into_values().collect();
        let api_names = api::api_names(&enums, &mut models);

        let all_fields = || models.iter().flat_map(|m| &m.fields);
        let uses_double_option = all_fields().any(|f| f.in_patch && f.optional);
        Graph {
            crate_ident: crate_name.replace('-', "_"),
            crate_name,
            version,
            description: schema.description.clone(),
            generator: format!("ssot-gen {}", env!("CARGO_PKG_VERSION")),
            roles,
            user_model,
            enums,
            realtime_models: (0..models.len()).filter(|&i| models[i].realtime).collect(),
            models,
            uses_double_option,
            paging: Paging {
                default_take: DEFAULT_TAKE,
                max_take: MAX_TAKE,
            },
            api_names,
            query_filters: types::query_filters(),
            hints,
        }
    }
}
