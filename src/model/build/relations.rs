//! Relations seen from their target: the name of each inverse relation.

use super::super::names::type_name;
use super::*;

/// An inverse relation before its name is settled: default name, source model, field, `inverse:` from the schema.
type PendingInverse = (String, String, String, Option<String>);

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
