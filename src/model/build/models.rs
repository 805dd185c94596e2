//! Models: their names and what is derived from them (types, table, route), their id, the user model, and the
//! model itself from its fields.

use super::super::names::{self, pluralize, quote_sql, sql_name, type_name, value_name};
use super::super::sql::table_sql;
use super::super::types::Scalar;
use super::*;
use crate::diagnostics::did_you_mean;

impl Builder {
    /// Checks model names and what is derived from them, and finds each model's id field.
    pub(super) fn model_infos<'s>(
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

    pub(super) fn user_model(
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

    pub(super) fn model(
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
                        // Checked by `check_reference`: an unknown name is already a problem.
                        on_delete: f
                            .on_delete
                            .as_ref()
                            .and_then(|o| OnDelete::parse(&o.value))
                            .unwrap_or_default(),
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
        let sets = field_sets(&fields);
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
            includes: Vec::new(),
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
            api_names: api::model_api_names(&name),
            has_hidden_fields: fields.iter().any(|f| f.hidden),
            filters_required: sets.filter.iter().any(|&i| !fields[i].optional),
            filters_optional: sets.filter.iter().any(|&i| fields[i].optional),
            insert_needs_context: fields.iter().any(|f| f.insert.needs_context()),
            validations: validations(&fields),
            sets,
            fields,
            name,
        }
    }
}

/// Which fields take part in each type and query.
fn field_sets(fields: &[Field]) -> FieldSets {
    let which = |keep: fn(&Field) -> bool| -> Vec<usize> {
        (0..fields.len()).filter(|&i| keep(&fields[i])).collect()
    };
    FieldSets {
        // A model without an id is reported; the graph is not used then.
        id: fields.iter().position(|f| f.id).unwrap_or_default(),
        owner: fields.iter().position(|f| f.owner),
        record: which(|f| f.in_record),
        create: which(|f| f.create != Presence::Absent),
        update: which(|f| f.update != Presence::Absent),
        patch: which(|f| f.in_patch),
        filter: which(|f| f.filter_type.is_some()),
        order: which(|f| f.orderable),
    }
}

/// The bound checks of each input, and how the input holds each checked value.
fn validations(fields: &[Field]) -> Validations {
    let checks = |held: &dyn Fn(&Field) -> Option<Held>| -> Vec<Validation> {
        fields
            .iter()
            .filter_map(|f| {
                Some(Validation {
                    field: f.name.clone(),
                    rust_name: f.rust_name.clone(),
                    bounds: f.bounds.clone()?,
                    held: held(f)?,
                })
            })
            .collect()
    };
    fn input(presence: Presence) -> Option<Held> {
        match presence {
            Presence::Required => Some(Held::Plain),
            Presence::Optional => Some(Held::Option),
            Presence::Absent => None,
        }
    }
    Validations {
        create: checks(&|f| input(f.create)),
        // `PUT` takes an optional field as an `Option`, like create.
        update: checks(&|f| input(f.update)),
        patch: checks(&|f| {
            f.in_patch.then_some(if f.optional {
                Held::Double
            } else {
                Held::Option
            })
        }),
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
        with_relations: format!("{base}WithRelations"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"
crate: sets
models:
  User:
    fields:
      id:    { type: uuid, id: true, default: uuid }
      name:  { type: string, min: 1, max: 50 }
      bio:   { type: text?, max: 500 }
      token: { type: string, hidden: true }
      seen:  { type: datetime, default: now, readonly: true }
      data:  json?
    access: { read: public, create: public, update: self }
"#;

    fn user() -> Model {
        let graph = crate::load("sets.yaml", SCHEMA).unwrap_or_else(|e| panic!("{e}"));
        graph.models.into_iter().find(|m| m.name == "User").unwrap()
    }

    fn names(m: &Model, set: &[usize]) -> Vec<String> {
        set.iter().map(|&i| m.fields[i].name.clone()).collect()
    }

    #[test]
    fn field_sets_name_the_fields_of_each_type_and_query() {
        let m = user();
        let s = &m.sets;
        assert_eq!(m.fields[s.id].name, "id");
        assert_eq!(s.owner, None);
        assert_eq!(names(&m, &s.record), ["id", "name", "bio", "seen", "data"]);
        assert_eq!(names(&m, &s.create), ["name", "bio", "token", "data"]);
        assert_eq!(names(&m, &s.update), ["name", "bio", "token", "data"]);
        assert_eq!(names(&m, &s.patch), ["name", "bio", "token", "data"]);
        // Hidden fields are neither filtered nor sorted on; an optional json field only tests for null; a uuid
        // has no order.
        assert_eq!(names(&m, &s.filter), ["id", "name", "bio", "seen", "data"]);
        assert_eq!(names(&m, &s.order), ["name", "bio", "seen"]);
        assert!(m.has_hidden_fields && m.insert_needs_context);
        assert!(m.filters_required && m.filters_optional);
    }

    #[test]
    fn validations_say_how_each_input_holds_the_value() {
        let m = user();
        let held = |checks: &[Validation]| -> Vec<(String, Held)> {
            checks.iter().map(|v| (v.field.clone(), v.held)).collect()
        };
        let pairs = |list: &[(&str, Held)]| -> Vec<(String, Held)> {
            list.iter().map(|(f, h)| ((*f).to_owned(), *h)).collect()
        };
        let v = &m.validations;
        assert_eq!(
            held(&v.create),
            pairs(&[("name", Held::Plain), ("bio", Held::Option)])
        );
        assert_eq!(
            held(&v.update),
            pairs(&[("name", Held::Plain), ("bio", Held::Option)])
        );
        assert_eq!(
            held(&v.patch),
            pairs(&[("name", Held::Option), ("bio", Held::Double)])
        );
        assert_eq!(v.create[0].bounds.max.as_deref(), Some("50"));
    }
}
