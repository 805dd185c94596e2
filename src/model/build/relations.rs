//! Relations seen from their target: the name of each inverse relation.

use super::super::names::{type_name, unique_name, value_name};
use super::*;
use std::collections::BTreeSet;

/// An inverse relation before its name is settled: its default name, `inverse:` from the schema, and the rest.
struct PendingInverse {
    default_name: String,
    explicit: Option<String>,
    relation: InverseRelation,
}

impl Builder {
    /// Names each relation as seen from its target: the source's plural (`messages`), or, when that is taken or
    /// ambiguous, qualified by the field (`messagesByAuthor`). `inverse:` in the schema overrides.
    pub(super) fn resolve_inverses(
        &mut self,
        models: &mut [Model],
        infos: &BTreeMap<String, ModelInfo>,
    ) {
        let mut pending: BTreeMap<String, Vec<PendingInverse>> = BTreeMap::new();
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
                let column = m
                    .fields
                    .iter()
                    .find(|f| f.name == r.field)
                    .map(|f| f.column_sql.clone())
                    .unwrap_or_default();
                pending
                    .entry(r.target.clone())
                    .or_default()
                    .push(PendingInverse {
                        default_name: name,
                        explicit,
                        relation: InverseRelation {
                            name: String::new(),
                            source: m.name.clone(),
                            field: r.field.clone(),
                            source_record: m.types.record.clone(),
                            column,
                            on_delete: r.on_delete,
                        },
                    });
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
            for PendingInverse {
                default_name,
                explicit,
                relation,
            } in list
            {
                let name = explicit.unwrap_or(default_name);
                let (source, field) = (&relation.source, &relation.field);
                let loc = infos[source]
                    .spec
                    .fields
                    .iter()
                    .find(|f| &f.name.value == field)
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
                m.inverse_relations
                    .push(InverseRelation { name, ..relation });
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

/// The name of the to-one relation through `field`: the field without its `Id` suffix (`authorId` -> `author`),
/// or `<field>Record` when there is no such suffix (`reporter` -> `reporterRecord`) or the name is taken.
fn forward_name(field: &str, taken: &BTreeSet<String>) -> Option<String> {
    let stem = field
        .strip_suffix("Id")
        .or_else(|| field.strip_suffix("_id"))
        .filter(|s| !s.is_empty() && !taken.contains(*s));
    let name = stem.map_or_else(|| format!("{field}Record"), str::to_owned);
    (!taken.contains(&name)).then_some(name)
}

/// Every model's includable relations: its references (to-one) and the references to it (to-many). A relation
/// whose reference field is hidden is left out: readers could not see the key it joins on. Names never shadow a
/// field or a reverse relation of the record they are added to; a to-one whose name and fallback are both taken
/// is left out.
pub(super) fn includes(models: &mut [Model]) {
    let by_name: BTreeMap<String, Model> =
        models.iter().map(|m| (m.name.clone(), m.clone())).collect();
    let field = |model: &str, name: &str| {
        by_name
            .get(model)
            .and_then(|m| m.fields.iter().find(|f| f.name == name))
    };
    for m in models.iter_mut() {
        let mut taken: BTreeSet<String> = m.fields.iter().map(|f| f.name.clone()).collect();
        taken.extend(m.inverse_relations.iter().map(|i| i.name.clone()));
        let mut includes = Vec::new();
        for i in &m.inverse_relations {
            let (Some(source), Some(reference)) =
                (by_name.get(&i.source), field(&i.source, &i.field))
            else {
                continue;
            };
            if !reference.in_record {
                continue;
            }
            includes.push(Include {
                name: i.name.clone(),
                rust_name: String::new(),
                renamed: false,
                many: true,
                target: source.name.clone(),
                target_record: source.types.record.clone(),
                key_field: m.id_field.clone(),
                remote_column: reference.column_sql.clone(),
                remote_field: reference.name.clone(),
            });
        }
        for r in &m.relations {
            let (Some(target), Some(reference)) =
                (by_name.get(&r.target), field(&m.name, &r.field))
            else {
                continue;
            };
            let Some(id) = target.fields.iter().find(|f| f.name == target.id_field) else {
                continue;
            };
            if !reference.in_record {
                continue;
            }
            let Some(name) = forward_name(&r.field, &taken) else {
                continue;
            };
            taken.insert(name.clone());
            includes.push(Include {
                name,
                rust_name: String::new(),
                renamed: false,
                many: false,
                target: target.name.clone(),
                target_record: target.types.record.clone(),
                key_field: reference.name.clone(),
                remote_column: id.column_sql.clone(),
                remote_field: id.name.clone(),
            });
        }
        includes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut rust_names = vec!["record".to_owned()];
        for i in &mut includes {
            i.rust_name = unique_name(&value_name(&i.name), &rust_names);
            i.renamed = i.rust_name.trim_start_matches("r#") != i.name;
            rust_names.push(i.rust_name.clone());
        }
        m.includes = includes;
    }
}

#[cfg(test)]
mod tests {
    /// A self-reference, a reference without `Id`, a short name taken by a field, two references to one model and a
    /// hidden reference.
    const SCHEMA: &str = r#"
crate: relations
models:
  Person:
    fields:
      id:        { type: int, id: true, default: autoincrement }
      managerId: { type: int?, references: Person, inverse: reports }
      mentor:    { type: int?, references: Person, inverse: mentees }
      team:      string
      teamId:    { type: int?, references: Team }
      secretId:  { type: int?, references: Team, hidden: true, inverse: secretMembers }
    access: { read: public }
  Team:
    fields:
      id: { type: int, id: true, default: autoincrement }
    access: { read: public }
"#;

    fn includes(model: &str) -> Vec<(String, bool, String, String, String)> {
        let graph = crate::load("relations.yaml", SCHEMA).unwrap_or_else(|e| panic!("{e}"));
        let m = graph.models.into_iter().find(|m| m.name == model).unwrap();
        m.includes
            .into_iter()
            .map(|i| (i.name, i.many, i.target, i.key_field, i.remote_field))
            .collect()
    }

    fn row(
        name: &str,
        many: bool,
        target: &str,
        key: &str,
        remote: &str,
    ) -> (String, bool, String, String, String) {
        (name.into(), many, target.into(), key.into(), remote.into())
    }

    #[test]
    fn includes_are_named_from_references_and_their_reverses() {
        assert_eq!(
            includes("Person"),
            [
                row("manager", false, "Person", "managerId", "id"),
                row("mentees", true, "Person", "id", "mentor"),
                row("mentorRecord", false, "Person", "mentor", "id"),
                row("reports", true, "Person", "id", "managerId"),
                // `team` is a field: the reference is `teamIdRecord`; the hidden `secretId` cannot be joined on.
                row("teamIdRecord", false, "Team", "teamId", "id"),
            ]
        );
        // Two references to `Team`: the reverse is qualified by the field; the hidden one has none.
        assert_eq!(
            includes("Team"),
            [row("peopleByTeam", true, "Person", "id", "teamId")]
        );
    }
}
