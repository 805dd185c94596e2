//! Schema -> model graph. Checks meaning (types exist, references resolve, names do not collide, rules make
//! sense) and makes every naming and SQL decision. All problems are collected, each with its position.

use std::collections::BTreeMap;

use serde_json::Value;

use super::formats::{is_date, is_uuid, is_version};
use super::names::{self, pluralize, quote_sql, sql_name, type_name, value_name};
use super::sql::table_sql;
use super::types::{BoundKind, FilterKind, Scalar, SCALAR_NAMES};
use super::*;
use crate::diagnostics::{did_you_mean, Diagnostic, Loc};
use crate::schema::{DefaultSpec, FieldSpec, ModelSpec, RuleSpec, Schema, Spanned};

/// Principals every schema knows; declared roles are added to them.
const BUILTIN_PRINCIPALS: &[&str] = &["public", "authenticated", "owner", "self", "nobody"];
/// Wire names of the filter combinators; a field may not use them.
const FILTER_COMBINATORS: &[&str] = &["AND", "OR", "NOT"];

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
        models.sort_by(|a, b| a.name.cmp(&b.name));

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
            enums: enums.into_values().collect(),
            models,
            uses_double_option,
        }
    }

    fn roles(&mut self, schema: &Schema) -> Vec<String> {
        let Some(declared) = &schema.roles else {
            return vec!["admin".to_owned()];
        };
        let mut roles: Vec<String> = Vec::new();
        for role in declared {
            if !is_identifier(&role.value) {
                self.problem(
                    Diagnostic::new(
                        role.loc,
                        format!("`{}` is not a valid role name", role.value),
                    )
                    .hint("use letters, digits and `_`, starting with a letter"),
                );
            } else if BUILTIN_PRINCIPALS.contains(&role.value.as_str()) {
                self.problem(
                    Diagnostic::new(
                        role.loc,
                        format!("`{}` is a built-in access rule, not a role", role.value),
                    )
                    .hint("remove it from `roles`; it can be used in access rules as it is"),
                );
            } else if roles.contains(&role.value) {
                self.problem(Diagnostic::new(
                    role.loc,
                    format!("role `{}` is declared twice", role.value),
                ));
            } else {
                roles.push(role.value.clone());
            }
        }
        roles.sort();
        roles
    }

    fn enums(&mut self, schema: &Schema) -> BTreeMap<String, Enum> {
        let mut enums = BTreeMap::new();
        let mut rust_names = BTreeMap::new();
        for spec in &schema.enums {
            let name = &spec.name;
            if !is_identifier(&name.value) {
                self.problem(
                    Diagnostic::new(
                        name.loc,
                        format!("`{}` is not a valid enum name", name.value),
                    )
                    .hint("use a PascalCase name such as `Role`"),
                );
                continue;
            }
            if Scalar::from_name(&name.value).is_some() {
                self.problem(
                    Diagnostic::new(
                        name.loc,
                        format!("enum `{}` has the name of a built-in type", name.value),
                    )
                    .hint("choose another name"),
                );
                continue;
            }
            let rust_name = type_name(&name.value);
            self.claim(
                &mut rust_names,
                rust_name.clone(),
                format!("enum `{}`", name.value),
                name.loc,
                "Rust type",
            );
            if spec.values.is_empty() {
                self.problem(
                    Diagnostic::new(name.loc, format!("enum `{}` has no values", name.value))
                        .hint("list at least one value"),
                );
            }
            let mut variants: Vec<Variant> = Vec::new();
            let mut seen = BTreeMap::new();
            for value in &spec.values {
                let variant = type_name(&value.value);
                if !value.value.chars().any(|c| c.is_ascii_alphanumeric()) {
                    self.problem(
                        Diagnostic::new(
                            value.loc,
                            format!("`{}` cannot be an enum value", value.value),
                        )
                        .hint("use letters or digits"),
                    );
                    continue;
                }
                let owner = format!("value `{}`", value.value);
                if self.claim(&mut seen, variant.clone(), owner, value.loc, "variant") {
                    variants.push(Variant {
                        value: value.value.clone(),
                        rust_name: variant,
                    });
                }
            }
            enums.insert(
                name.value.clone(),
                Enum {
                    name: name.value.clone(),
                    rust_name,
                    doc: spec.doc.clone(),
                    variants,
                },
            );
        }
        enums
    }

    /// Checks model names and what is derived from them, and finds each model's id field.
    fn model_infos<'s>(
        &mut self,
        schema: &'s Schema,
        enums: &BTreeMap<String, Enum>,
    ) -> BTreeMap<String, ModelInfo<'s>> {
        let mut infos = BTreeMap::new();
        let mut type_names: BTreeMap<String, (String, Loc)> = BTreeMap::new();
        for e in enums.values() {
            let loc = schema
                .enums
                .iter()
                .find(|s| s.name.value == e.name)
                .map(|s| s.name.loc)
                .unwrap_or_default();
            type_names.insert(e.rust_name.clone(), (format!("enum `{}`", e.name), loc));
        }
        let mut tables = BTreeMap::new();
        let mut routes = BTreeMap::new();
        for spec in &schema.models {
            let name = &spec.name;
            if !is_identifier(&name.value) {
                self.problem(
                    Diagnostic::new(
                        name.loc,
                        format!("`{}` is not a valid model name", name.value),
                    )
                    .hint("use a PascalCase name of letters and digits, such as `ChatRoom`"),
                );
                continue;
            }
            let rust_name = type_name(&name.value);
            let owner = format!("model `{}`", name.value);
            for (what, ty) in generated_type_names(&rust_name).all() {
                self.claim(
                    &mut type_names,
                    ty.to_owned(),
                    format!("the {what} of {owner}"),
                    name.loc,
                    "Rust type",
                );
            }
            let plural = self.plural(spec);
            let table = match &spec.table {
                Some(t) if is_identifier(&t.value) => t.value.clone(),
                Some(t) => {
                    self.problem(
                        Diagnostic::new(t.loc, format!("`{}` is not a valid table name", t.value))
                            .hint("use letters, digits and `_`, starting with a letter"),
                    );
                    t.value.clone()
                }
                None => sql_name(&plural),
            };
            if table.len() > 63 {
                self.problem(
                    Diagnostic::new(
                        name.loc,
                        format!("table name `{table}` is longer than PostgreSQL's 63 bytes"),
                    )
                    .hint("set a shorter `table:`"),
                );
            }
            self.claim(&mut tables, table.clone(), owner.clone(), name.loc, "table");
            self.claim(
                &mut routes,
                names::path_segment(&plural),
                owner,
                name.loc,
                "route",
            );
            let id = self.find_id(spec, enums);
            infos.insert(
                name.value.clone(),
                ModelInfo {
                    spec,
                    rust_name,
                    plural,
                    table,
                    id,
                },
            );
        }
        infos
    }

    fn plural(&mut self, spec: &ModelSpec) -> String {
        match &spec.plural {
            Some(p) if is_identifier(&p.value) => type_name(&p.value),
            Some(p) => {
                self.problem(
                    Diagnostic::new(
                        p.loc,
                        format!(
                            "`{}` cannot be the plural of `{}`: it is not a name",
                            p.value, spec.name.value
                        ),
                    )
                    .hint("use letters and digits, starting with a letter, e.g. `plural: People`"),
                );
                type_name(&pluralize(&spec.name.value))
            }
            None => type_name(&pluralize(&spec.name.value)),
        }
    }

    fn find_id<'s>(
        &mut self,
        spec: &'s ModelSpec,
        enums: &BTreeMap<String, Enum>,
    ) -> Option<(&'s FieldSpec, Scalar)> {
        let ids: Vec<&FieldSpec> = spec.fields.iter().filter(|f| f.id).collect();
        match ids.as_slice() {
            [] => {
                self.problem(
                    Diagnostic::new(spec.name.loc, format!("model `{}` has no id field", spec.name.value))
                        .hint("mark one field `id: true`, e.g. `id: { type: uuid, id: true, default: uuid }`"),
                );
                None
            }
            [id] => {
                let scalar = Scalar::from_name(&id.ty.value);
                match scalar {
                    Some(s) if s.is_key() => Some((*id, s)),
                    _ if scalar.is_none() && !enums.contains_key(&id.ty.value) => None, // unknown type, reported later
                    _ => {
                        self.problem(
                            Diagnostic::new(
                                id.ty.loc,
                                format!("an id cannot have type `{}`", id.ty.value),
                            )
                            .hint("use `uuid`, `int`, `bigint` or `string`"),
                        );
                        None
                    }
                }
            }
            [first, rest @ ..] => {
                for extra in rest {
                    self.problem(
                        Diagnostic::new(
                            extra.name.loc,
                            format!("model `{}` has more than one id field", spec.name.value),
                        )
                        .hint(format!(
                            "keep `id: true` on `{}` only; use `unique: true` for other keys",
                            first.name.value
                        )),
                    );
                }
                None
            }
        }
    }

    fn user_model(
        &mut self,
        schema: &Schema,
        infos: &BTreeMap<String, ModelInfo>,
    ) -> Option<String> {
        match &schema.user_model {
            Some(user) if infos.contains_key(&user.value) => Some(user.value.clone()),
            Some(user) => {
                let hint = did_you_mean(&user.value, infos.keys().map(String::as_str))
                    .unwrap_or_else(|| "name one of the models declared under `models`".to_owned());
                self.problem(
                    Diagnostic::new(user.loc, format!("unknown user model `{}`", user.value))
                        .hint(hint),
                );
                None
            }
            None => infos.contains_key("User").then(|| "User".to_owned()),
        }
    }

    fn model(
        &mut self,
        info: &ModelInfo,
        infos: &BTreeMap<String, ModelInfo>,
        enums: &BTreeMap<String, Enum>,
        roles: &[String],
        user_model: Option<&str>,
        user_id_type: Option<Scalar>,
    ) -> Model {
        let spec = info.spec;
        let name = spec.name.value.clone();
        let plural = info.plural.clone();
        let mut fields = Vec::new();
        let mut rust_names = BTreeMap::new();
        let mut columns = BTreeMap::new();
        let mut variants = BTreeMap::new();
        let mut relations = Vec::new();
        let mut owner_field: Option<&FieldSpec> = None;
        for f in &spec.fields {
            let Some(field) = self.field(f, info, infos, enums, user_model, user_id_type) else {
                continue;
            };
            // One collision is reported once: by the first name that collides.
            let owner = format!("field `{}`", f.name.value);
            let loc = f.name.loc;
            let _ = self.claim(
                &mut rust_names,
                field.rust_name.clone(),
                owner.clone(),
                loc,
                "Rust field",
            ) && self.claim(
                &mut variants,
                field.variant.clone(),
                owner.clone(),
                loc,
                "Rust variant",
            ) && self.claim(&mut columns, field.column.clone(), owner, loc, "column");
            if field.owner {
                if let Some(first) = owner_field {
                    self.problem(
                        Diagnostic::new(
                            f.name.loc,
                            format!("model `{name}` has more than one owner field"),
                        )
                        .hint(format!("keep `owner: true` on `{}` only", first.name.value)),
                    );
                } else {
                    owner_field = Some(f);
                }
            }
            if let Some(target) = &field.references {
                if let Some(t) = infos.get(target) {
                    let target_column =
                        t.id.map(|(id, _)| sql_name(&id.name.value))
                            .unwrap_or_default();
                    relations.push(Relation {
                        field: field.name.clone(),
                        target: target.clone(),
                        target_table: t.table.clone(),
                        target_column,
                        inverse: f
                            .inverse
                            .as_ref()
                            .map(|i| i.value.clone())
                            .unwrap_or_default(),
                        optional: field.optional,
                    });
                }
            }
            fields.push(field);
        }
        let taken: Vec<String> = fields.iter().map(|f| f.rust_name.clone()).collect();
        let access = self.access(
            spec,
            roles,
            owner_field.is_some(),
            user_model == Some(name.as_str()),
        );
        let sql = table_sql(&info.table, &fields, &relations, enums);
        Model {
            doc: spec.doc.clone(),
            module: value_name(&name),
            file_stem: names::file_stem(&value_name(&name)),
            route: format!("/api/{}", names::path_segment(&plural)),
            accessor: value_name(&plural),
            plural,
            table: info.table.clone(),
            realtime: spec.realtime.as_ref().is_none_or(|r| r.value),
            types: generated_type_names(&info.rust_name),
            id_field: info
                .id
                .map(|(f, _)| f.name.value.clone())
                .unwrap_or_default(),
            owner_field: owner_field.map(|f| f.name.value.clone()),
            access,
            relations,
            inverse_relations: Vec::new(),
            channels: Channels {
                list: format!("{name}:list"),
                item_prefix: format!("{name}:item:"),
            },
            filter_logic: FilterLogic {
                and: names::unique_name("and", &taken),
                or: names::unique_name("or", &taken),
                not: names::unique_name("not", &taken),
            },
            sql,
            sql_names: SqlNames {
                table: quote_sql(&info.table),
                id_column: fields
                    .iter()
                    .find(|f| f.id)
                    .map(|f| f.column_sql.clone())
                    .unwrap_or_default(),
                owner_column: fields
                    .iter()
                    .find(|f| f.owner)
                    .map(|f| f.column_sql.clone()),
                select: fields
                    .iter()
                    .filter(|f| f.in_record)
                    .map(|f| f.column_sql.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                id_rust_type: fields
                    .iter()
                    .find(|f| f.id)
                    .map(|f| f.rust_type.clone())
                    .unwrap_or_default(),
                owner_rust_type: fields.iter().find(|f| f.owner).map(|f| f.rust_type.clone()),
            },
            fields,
            name,
        }
    }

    fn field(
        &mut self,
        f: &FieldSpec,
        model: &ModelInfo,
        infos: &BTreeMap<String, ModelInfo>,
        enums: &BTreeMap<String, Enum>,
        user_model: Option<&str>,
        user_id_type: Option<Scalar>,
    ) -> Option<Field> {
        let name = &f.name.value;
        let context = format!("`{}.{}`", model.spec.name.value, name);
        if !is_identifier(name) {
            self.problem(
                Diagnostic::new(f.name.loc, format!("`{name}` is not a valid field name"))
                    .hint("use letters, digits and `_`, starting with a letter (e.g. `createdAt`)"),
            );
            return None;
        }
        if FILTER_COMBINATORS.contains(&name.as_str()) {
            self.problem(
                Diagnostic::new(
                    f.name.loc,
                    format!("`{name}` is reserved for filter combinators"),
                )
                .hint("rename the field; `AND`, `OR` and `NOT` combine filters in list queries"),
            );
            return None;
        }
        let (scalar, rust_type) = match (Scalar::from_name(&f.ty.value), enums.get(&f.ty.value)) {
            (Some(s), _) => (s, s.rust_type("")),
            (None, Some(e)) => (Scalar::Enum, format!("crate::enums::{}", e.rust_name)),
            (None, None) => {
                let candidates = SCALAR_NAMES
                    .iter()
                    .copied()
                    .chain(enums.keys().map(String::as_str));
                let hint = if infos.contains_key(&f.ty.value) {
                    format!(
                        "to point at a `{0}`, use the type of its id and `references: {0}`",
                        f.ty.value
                    )
                } else {
                    did_you_mean(&f.ty.value, candidates).unwrap_or_else(|| {
                        format!(
                            "use one of {} or an enum declared under `enums`",
                            SCALAR_NAMES.join(", ")
                        )
                    })
                };
                self.problem(
                    Diagnostic::new(
                        f.ty.loc,
                        format!("unknown type `{}` for {context}", f.ty.value),
                    )
                    .hint(hint),
                );
                return None;
            }
        };
        let owner = f.owner.as_ref().is_some_and(|o| o.value);
        let default = f
            .default
            .as_ref()
            .and_then(|d| self.default(d, f, scalar, enums, &context));
        let bounds = self.bounds(f, scalar, &context);

        if f.id && f.optional {
            self.problem(
                Diagnostic::new(f.ty.loc, format!("the id {context} cannot be optional"))
                    .hint("remove the `?`"),
            );
        }
        if f.id && f.hidden {
            self.problem(Diagnostic::new(
                f.name.loc,
                format!("the id {context} cannot be hidden"),
            ));
        }
        if f.readonly && !f.optional && default.is_none() {
            self.problem(
                Diagnostic::new(
                    f.name.loc,
                    format!("{context} is readonly but has no default, so it can never be set"),
                )
                .hint("add a `default`, make it optional, or remove `readonly`"),
            );
        }
        if let (true, Some(d), Some(spec)) = (f.id, &default, &f.default) {
            if d.kind == DefaultKind::Literal {
                self.problem(
                    Diagnostic::new(spec.loc, format!("the id {context} has a fixed default, so every row would get the same id"))
                        .hint("use `default: uuid` or `default: autoincrement`, or no default (the client sends the id)"),
                );
            }
        }
        if let (Some(d), Some(spec), Some(bounds)) = (&default, &f.default, &bounds) {
            self.check_default_in_bounds(d, spec.loc, f, bounds.kind, &context);
        }
        match (&f.references, &f.inverse) {
            (Some(target), _) => self.check_reference(f, target, scalar, infos, &context),
            (None, Some(inverse)) => self.problem(
                Diagnostic::new(inverse.loc, format!("{context} has `inverse` but no `references`"))
                    .hint("`inverse` names the reverse side of a reference; add `references: <Model>` or remove it"),
            ),
            (None, None) => {}
        }
        if owner {
            self.check_owner(f, scalar, user_model, user_id_type, &context);
        }

        let server_sets_id = f.id
            && default
                .as_ref()
                .is_some_and(|d| matches!(d.kind, DefaultKind::Uuid | DefaultKind::Autoincrement));
        let create = if f.readonly || owner || server_sets_id {
            Presence::Absent
        } else if f.optional || default.is_some() {
            Presence::Optional
        } else {
            Presence::Required
        };
        let writable_later = !f.readonly && !owner && !f.id;
        let update = match (writable_later, f.optional) {
            (false, _) => Presence::Absent,
            (true, true) => Presence::Optional,
            (true, false) => Presence::Required,
        };
        let filter_type = (!f.hidden)
            .then(|| FilterKind::for_scalar(scalar, f.optional))
            .flatten()
            .map(|kind| {
                let path = format!("crate::query::{}", kind.struct_name(f.optional));
                if kind.is_generic() {
                    format!("{path}<{rust_type}>")
                } else {
                    path
                }
            });
        let insert = insert_source(owner, default.as_ref().map(|d| d.kind), scalar, create);
        let mut field = Field {
            name: name.clone(),
            rust_name: value_name(name),
            renamed: value_name(name).trim_start_matches("r#") != name,
            variant: type_name(name),
            doc: f.doc.clone(),
            column: sql_name(name),
            scalar,
            type_name: f.ty.value.clone(),
            rust_type,
            optional: f.optional,
            id: f.id,
            unique: f.unique || f.id,
            readonly: f.readonly,
            hidden: f.hidden,
            owner,
            default,
            bounds,
            references: f.references.as_ref().map(|r| r.value.clone()),
            in_record: !f.hidden,
            create,
            update,
            in_patch: writable_later,
            filter_type,
            orderable: !f.hidden && scalar.is_ordered(),
            notes: String::new(),
            column_sql: quote_sql(&sql_name(name)),
            insert,
        };
        field.notes = super::describe::field_notes(&field);
        Some(field)
    }

    /// A literal default must satisfy the field's own `min`/`max`, or every defaulted row breaks its CHECK.
    fn check_default_in_bounds(
        &mut self,
        d: &Default,
        loc: Loc,
        f: &FieldSpec,
        kind: BoundKind,
        context: &str,
    ) {
        let Some(value) = &d.value else { return };
        let measured = match (kind, value) {
            (BoundKind::Length, Value::String(s)) => s.chars().count() as f64,
            (BoundKind::Range, Value::Number(n)) => n.as_f64().unwrap_or(0.0),
            _ => return,
        };
        let below = f.min.as_ref().is_some_and(|min| measured < min.value);
        let above = f.max.as_ref().is_some_and(|max| measured > max.value);
        if below || above {
            let what = if kind == BoundKind::Length {
                "its length"
            } else {
                "it"
            };
            self.problem(
                Diagnostic::new(
                    loc,
                    format!("the default of {context} is outside its `min`/`max`"),
                )
                .hint(format!(
                    "choose a default whose {what} is within the bounds, or change the bounds"
                )),
            );
        }
    }

    fn check_reference(
        &mut self,
        f: &FieldSpec,
        target: &Spanned<String>,
        scalar: Scalar,
        infos: &BTreeMap<String, ModelInfo>,
        context: &str,
    ) {
        match infos.get(&target.value) {
            None => {
                let hint = did_you_mean(&target.value, infos.keys().map(String::as_str))
                    .unwrap_or_else(|| "name one of the models declared under `models`".to_owned());
                self.problem(
                    Diagnostic::new(
                        target.loc,
                        format!("{context} references unknown model `{}`", target.value),
                    )
                    .hint(hint),
                );
            }
            Some(t) => {
                if let Some((id, id_scalar)) = t.id {
                    if id_scalar != scalar {
                        self.problem(
                            Diagnostic::new(
                                f.ty.loc,
                                format!(
                                    "{context} has type `{}` but `{}.{}` is `{}`",
                                    f.ty.value, target.value, id.name.value, id.ty.value
                                ),
                            )
                            .hint(format!("write `type: {}`", id.ty.value)),
                        );
                    }
                }
            }
        }
        if let Some(inverse) = &f.inverse {
            if !is_identifier(&inverse.value) {
                self.problem(
                    Diagnostic::new(
                        inverse.loc,
                        format!("`{}` is not a valid relation name", inverse.value),
                    )
                    .hint("use letters, digits and `_`, starting with a letter"),
                );
            }
        }
    }

    fn check_owner(
        &mut self,
        f: &FieldSpec,
        scalar: Scalar,
        user_model: Option<&str>,
        user_id_type: Option<Scalar>,
        context: &str,
    ) {
        let loc = f.owner.as_ref().map(|o| o.loc).unwrap_or(f.name.loc);
        match (user_model, user_id_type) {
            (Some(user), Some(id_type)) if id_type != scalar => self.problem(
                Diagnostic::new(
                    loc,
                    format!(
                        "owner {context} has type `{}`, which cannot hold a `{user}` id (`{}`)",
                        f.ty.value,
                        id_type.name()
                    ),
                )
                .hint(format!(
                    "write `type: {}, references: {user}`",
                    id_type.name()
                )),
            ),
            (None, _) if !scalar.is_key() => self.problem(
                Diagnostic::new(
                    loc,
                    format!(
                        "owner {context} has type `{}`, which cannot hold a user id",
                        f.ty.value
                    ),
                )
                .hint(
                    "use `uuid`, `string`, `int` or `bigint`: the token's subject is stored in it",
                ),
            ),
            _ => {}
        }
        if let (Some(user), Some(target)) = (user_model, &f.references) {
            if target.value != user {
                self.problem(
                    Diagnostic::new(
                        target.loc,
                        format!(
                            "owner {context} references `{}`, not the user model `{user}`",
                            target.value
                        ),
                    )
                    .hint(format!(
                        "an owner holds a user id: write `references: {user}`"
                    )),
                );
            }
        }
        if f.optional {
            self.problem(
                Diagnostic::new(f.ty.loc, format!("owner {context} cannot be optional")).hint(
                    "the owner is set from the caller's token on create, so every row has one",
                ),
            );
        }
        if f.default.is_some() {
            self.problem(
                Diagnostic::new(loc, format!("owner {context} cannot have a default"))
                    .hint("the owner is set from the caller's token on create"),
            );
        }
    }

    fn default(
        &mut self,
        d: &Spanned<DefaultSpec>,
        f: &FieldSpec,
        scalar: Scalar,
        enums: &BTreeMap<String, Enum>,
        context: &str,
    ) -> Option<Default> {
        let keyword = |kind| Some(Default { kind, value: None });
        let literal = |value: Value| {
            Some(Default {
                kind: DefaultKind::Literal,
                value: Some(value),
            })
        };
        let raw = match &d.value {
            DefaultSpec::Structured(v) if scalar == Scalar::Json => return literal(v.clone()),
            DefaultSpec::Structured(_) => {
                self.problem(
                    Diagnostic::new(
                        d.loc,
                        format!(
                            "invalid default for {context}: a list or mapping needs a `json` field"
                        ),
                    )
                    .hint(format!("write a single `{}` value", f.ty.value)),
                );
                return None;
            }
            DefaultSpec::Scalar(raw) => raw.as_str(),
        };
        let invalid = |b: &mut Self, expected: &str| {
            b.problem(
                Diagnostic::new(
                    d.loc,
                    format!(
                        "invalid default `{raw}` for {context} of type `{}`",
                        f.ty.value
                    ),
                )
                .hint(expected.to_owned()),
            );
            None
        };
        match scalar {
            Scalar::DateTime if raw == "now" => keyword(DefaultKind::Now),
            Scalar::DateTime => invalid(self, "use `default: now`, or no default"),
            Scalar::Date if raw == "now" => keyword(DefaultKind::Now),
            Scalar::Date if is_date(raw) => literal(Value::String(raw.to_owned())),
            Scalar::Date => invalid(self, "use `now` or a date such as `2024-01-31`"),
            Scalar::Uuid if raw == "uuid" => keyword(DefaultKind::Uuid),
            Scalar::Uuid if is_uuid(raw) => literal(Value::String(raw.to_ascii_lowercase())),
            Scalar::Uuid => invalid(self, "use `default: uuid` to generate one"),
            Scalar::Int | Scalar::BigInt if raw == "autoincrement" => {
                if f.id {
                    keyword(DefaultKind::Autoincrement)
                } else {
                    invalid(
                        self,
                        "`autoincrement` is only for the id field; use a number",
                    )
                }
            }
            Scalar::Int | Scalar::BigInt => match raw.parse::<i64>() {
                Ok(n) if scalar == Scalar::BigInt || i32::try_from(n).is_ok() => {
                    literal(Value::from(n))
                }
                Ok(_) => invalid(
                    self,
                    "the value does not fit in `int` (32 bits); use `bigint`",
                ),
                Err(_) => invalid(self, "use a whole number, or `autoincrement` on an id"),
            },
            Scalar::Float => match raw
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => literal(Value::Number(n)),
                None => invalid(self, "use a number such as `0.5`"),
            },
            Scalar::Bool => match raw {
                "true" => literal(Value::Bool(true)),
                "false" => literal(Value::Bool(false)),
                _ => invalid(self, "use `true` or `false`"),
            },
            Scalar::Enum => {
                let e = &enums[&f.ty.value];
                if e.variants.iter().any(|v| v.value == raw) {
                    literal(Value::String(raw.to_owned()))
                } else {
                    let values: Vec<&str> = e.variants.iter().map(|v| v.value.as_str()).collect();
                    let hint = did_you_mean(raw, values.iter().copied())
                        .unwrap_or_else(|| format!("use one of: {}", values.join(", ")));
                    invalid(self, &hint)
                }
            }
            Scalar::String | Scalar::Text => literal(Value::String(raw.to_owned())),
            Scalar::Json => literal(crate::schema::scalar_to_json(raw)),
        }
    }

    fn bounds(&mut self, f: &FieldSpec, scalar: Scalar, context: &str) -> Option<Bounds> {
        if f.min.is_none() && f.max.is_none() {
            return None;
        }
        let Some(kind) = scalar.bound_kind() else {
            let loc = f
                .min
                .as_ref()
                .or(f.max.as_ref())
                .map(|b| b.loc)
                .unwrap_or(f.name.loc);
            self.problem(
                Diagnostic::new(loc, format!("`min`/`max` do not apply to {context} of type `{}`", f.ty.value))
                    .hint("bounds apply to text length (string, text) and to numbers (int, bigint, float)"),
            );
            return None;
        };
        let literal = |b: &Option<Spanned<f64>>, this: &mut Self| -> Option<String> {
            let b = b.as_ref()?;
            let whole = b.value.fract() == 0.0;
            let fits = match (kind, scalar) {
                (BoundKind::Length, _) => whole && b.value >= 0.0,
                (_, Scalar::Int) => {
                    whole && b.value >= f64::from(i32::MIN) && b.value <= f64::from(i32::MAX)
                }
                (_, Scalar::BigInt) => whole && b.value.abs() < 9.0e15,
                _ => true,
            };
            if !fits {
                let hint = match kind {
                    BoundKind::Length => {
                        "a length bound is a whole number of characters, 0 or more"
                    }
                    BoundKind::Range => "use a whole number that fits the field's type",
                };
                this.problem(
                    Diagnostic::new(b.loc, format!("invalid bound `{}` for {context}", b.value))
                        .hint(hint),
                );
                return None;
            }
            Some(match scalar {
                Scalar::Float => format!("{:?}", b.value),
                _ => format!("{}", b.value as i64),
            })
        };
        let min = literal(&f.min, self);
        let max = literal(&f.max, self);
        if let (Some(lo), Some(hi)) = (&f.min, &f.max) {
            if lo.value > hi.value {
                self.problem(
                    Diagnostic::new(
                        lo.loc,
                        format!(
                            "`min` ({}) is greater than `max` ({}) for {context}",
                            lo.value, hi.value
                        ),
                    )
                    .hint("swap them"),
                );
            }
        }
        Some(Bounds { kind, min, max })
    }

    fn access(
        &mut self,
        spec: &ModelSpec,
        roles: &[String],
        has_owner: bool,
        is_user_model: bool,
    ) -> Access {
        let rule = |r: &Option<RuleSpec>, op: &str, b: &mut Self| {
            b.rule(r.as_ref(), op, spec, roles, has_owner, is_user_model)
        };
        Access {
            read: rule(&spec.access.read, "read", self),
            create: rule(&spec.access.create, "create", self),
            update: rule(&spec.access.update, "update", self),
            delete: rule(&spec.access.delete, "delete", self),
        }
    }

    fn rule(
        &mut self,
        spec: Option<&RuleSpec>,
        op: &str,
        model: &ModelSpec,
        roles: &[String],
        has_owner: bool,
        is_user_model: bool,
    ) -> Rule {
        let mut rule = Rule::default();
        let Some(spec) = spec else {
            rule.summary = "nobody".to_owned();
            return rule;
        };
        let model_name = &model.name.value;
        for p in &spec.principals {
            match p.value.as_str() {
                "public" => rule.public = true,
                "authenticated" => rule.authenticated = true,
                "nobody" => {}
                "owner" | "self" if op == "create" => self.problem(
                    Diagnostic::new(p.loc, format!("`{}` cannot create: the row does not exist yet", p.value))
                        .hint("use `authenticated` (create sets the owner field from the token) or a role"),
                ),
                "owner" if !has_owner => self.problem(
                    Diagnostic::new(p.loc, format!("`owner` is used but model `{model_name}` has no owner field"))
                        .hint("mark the field holding the user id with `owner: true`"),
                ),
                "owner" => rule.owner = true,
                "self" if !is_user_model => self.problem(
                    Diagnostic::new(p.loc, format!("`self` only applies to the user model, not `{model_name}`"))
                        .hint(format!("use `owner` with an owner field, or set `auth: {{ user: {model_name} }}`")),
                ),
                "self" => rule.self_ = true,
                role if roles.iter().any(|r| r == role) => rule.roles.push(role.to_owned()),
                unknown => {
                    let candidates = BUILTIN_PRINCIPALS.iter().copied().chain(roles.iter().map(String::as_str));
                    let hint = did_you_mean(unknown, candidates).unwrap_or_else(|| {
                        let declared = if roles.is_empty() { "none".to_owned() } else { roles.join(", ") };
                        format!(
                            "use public, authenticated, owner, self, nobody or a role declared under `roles` (declared: {declared})"
                        )
                    });
                    self.problem(Diagnostic::new(p.loc, format!("unknown access rule `{unknown}`")).hint(hint));
                }
            }
        }
        rule.roles.sort();
        rule.roles.dedup();
        let mut parts = Vec::new();
        if rule.public {
            parts.push("anyone".to_owned());
        }
        if rule.authenticated {
            parts.push("any signed-in user".to_owned());
        }
        if rule.owner {
            parts.push("owner".to_owned());
        }
        if rule.self_ {
            parts.push("the user themself".to_owned());
        }
        parts.extend(rule.roles.iter().map(|r| format!("role `{r}`")));
        rule.summary = if parts.is_empty() {
            "nobody".to_owned()
        } else {
            parts.join(" or ")
        };
        rule
    }

    /// Names each relation as seen from its target: the source's plural (`messages`), or, when that is taken or
    /// ambiguous, qualified by the field (`messagesByAuthor`). `inverse:` in the schema overrides.
    fn resolve_inverses(&mut self, models: &mut [Model], infos: &BTreeMap<String, ModelInfo>) {
        let mut pending: BTreeMap<String, Vec<(String, String, String, Option<String>)>> =
            BTreeMap::new();
        for m in models.iter() {
            let source_plural = lower_camel(&m.plural);
            for r in &m.relations {
                let count = m.relations.iter().filter(|o| o.target == r.target).count();
                let stem = r
                    .field
                    .strip_suffix("Id")
                    .or_else(|| r.field.strip_suffix("_id"))
                    .unwrap_or(&r.field);
                let qualified = format!("{source_plural}By{}", type_name(stem));
                let explicit = (!r.inverse.is_empty()).then(|| r.inverse.clone());
                let name = if count > 1 {
                    qualified
                } else {
                    source_plural.clone()
                };
                pending.entry(r.target.clone()).or_default().push((
                    name,
                    m.name.clone(),
                    r.field.clone(),
                    explicit,
                ));
            }
        }
        for m in models.iter_mut() {
            let Some(list) = pending.remove(&m.name) else {
                continue;
            };
            let mut taken: BTreeMap<String, (String, Loc)> = m
                .fields
                .iter()
                .map(|f| {
                    (
                        f.name.clone(),
                        (format!("field `{}`", f.name), Loc::default()),
                    )
                })
                .collect();
            for (default_name, source, field, explicit) in list {
                let name = explicit.unwrap_or(default_name);
                let loc = infos[&source]
                    .spec
                    .fields
                    .iter()
                    .find(|f| f.name.value == field)
                    .map(|f| f.name.loc)
                    .unwrap_or_default();
                if let Some((first, _)) = taken.get(&name) {
                    self.problem(
                        Diagnostic::new(loc, format!("the reverse of `{source}.{field}` would be `{}.{name}`, which {first} already uses", m.name))
                            .hint(format!("name it with `inverse: <name>` on `{source}.{field}`")),
                    );
                    continue;
                }
                taken.insert(
                    name.clone(),
                    (format!("the reverse of `{source}.{field}`"), loc),
                );
                m.inverse_relations.push(InverseRelation {
                    name: name.clone(),
                    source: source.clone(),
                    field: field.clone(),
                });
            }
            m.inverse_relations.sort_by(|a, b| a.name.cmp(&b.name));
        }
        // Write the final names back onto the referencing side.
        let inverse_names: BTreeMap<(String, String), String> = models
            .iter()
            .flat_map(|m| {
                m.inverse_relations
                    .iter()
                    .map(move |i| ((i.source.clone(), i.field.clone()), i.name.clone()))
            })
            .collect();
        for m in models.iter_mut() {
            for r in &mut m.relations {
                if let Some(name) = inverse_names.get(&(m.name.clone(), r.field.clone())) {
                    r.inverse = name.clone();
                }
            }
        }
    }
}

/// Where a field's value comes from when a row is created.
fn insert_source(
    owner: bool,
    default: Option<DefaultKind>,
    scalar: Scalar,
    create: Presence,
) -> Insert {
    let now = if scalar == Scalar::Date {
        Insert::Today
    } else {
        Insert::Now
    };
    let input_or_now = if scalar == Scalar::Date {
        Insert::InputOrToday
    } else {
        Insert::InputOrNow
    };
    match (owner, create, default) {
        (true, _, _) => Insert::Owner,
        (_, Presence::Absent, Some(DefaultKind::Uuid)) => Insert::NewUuid,
        (_, Presence::Absent, Some(DefaultKind::Now)) => now,
        (_, Presence::Absent, _) => Insert::Omit,
        (_, Presence::Required, _) => Insert::Input,
        (_, Presence::Optional, Some(DefaultKind::Now)) => input_or_now,
        (_, Presence::Optional, Some(DefaultKind::Uuid)) => Insert::InputOrNewUuid,
        (_, Presence::Optional, _) => Insert::InputOrOmit,
    }
}

fn generated_type_names(rust_name: &str) -> ModelTypes {
    let base = rust_name.trim_end_matches('_');
    ModelTypes {
        record: rust_name.to_owned(),
        create: format!("{base}Create"),
        update: format!("{base}Update"),
        patch: format!("{base}Patch"),
        filter: format!("{base}Filter"),
        order_by: format!("{base}OrderBy"),
    }
}
