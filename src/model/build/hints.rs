//! The schema's migration hints (`renamedFrom:`, `backfill:`) checked and collected for the graph
//! (`model::hints`). Whether a hint is needed, or names something the previous migration had, is decided when a
//! migration is planned (`crate::migrate`); here only what the schema alone can tell.

use std::collections::BTreeMap;

use super::{is_identifier, Builder};
use crate::diagnostics::Diagnostic;
use crate::model::hints::{FieldHints, Hints, ModelHints};
use crate::model::types::Scalar;
use crate::model::Enum;
use crate::schema::{ModelSpec, Schema, Spanned};

impl Builder {
    pub(super) fn hints(&mut self, schema: &Schema, enums: &BTreeMap<String, Enum>) -> Hints {
        let mut hints = Hints {
            models_loc: schema.models_loc,
            ..Hints::default()
        };
        let names: Vec<&str> = schema
            .models
            .iter()
            .map(|m| m.name.value.as_str())
            .collect();
        let mut previous: BTreeMap<String, String> = BTreeMap::new();
        for spec in &schema.models {
            let owner = format!("model `{}`", spec.name.value);
            let renamed_from = spec.renamed_from.as_ref().filter(|from| {
                self.previous_name(from, &spec.name.value, &names, &mut previous, &owner)
            });
            hints.models.insert(
                spec.name.value.clone(),
                ModelHints {
                    loc: spec.name.loc,
                    renamed_from: renamed_from.cloned(),
                    fields: self.field_hints(spec, enums),
                },
            );
        }
        hints
    }

    fn field_hints(
        &mut self,
        spec: &ModelSpec,
        enums: &BTreeMap<String, Enum>,
    ) -> BTreeMap<String, FieldHints> {
        let names: Vec<&str> = spec.fields.iter().map(|f| f.name.value.as_str()).collect();
        let mut previous = BTreeMap::new();
        let mut fields = BTreeMap::new();
        for f in &spec.fields {
            let context = format!("`{}.{}`", spec.name.value, f.name.value);
            let owner = format!("field {context}");
            let renamed_from = f.renamed_from.as_ref().filter(|from| {
                self.previous_name(from, &f.name.value, &names, &mut previous, &owner)
            });
            let scalar = Scalar::from_name(&f.ty.value)
                .or_else(|| enums.contains_key(&f.ty.value).then_some(Scalar::Enum));
            let backfill = match (&f.backfill, scalar) {
                (Some(b), _) if f.id => {
                    self.problem(
                        Diagnostic::new(b.loc, format!("the id {context} cannot have a backfill"))
                            .hint(
                                "every existing row would get the same id; add a new model instead",
                            ),
                    );
                    None
                }
                (Some(b), _) if f.optional => {
                    self.problem(
                        Diagnostic::new(
                            b.loc,
                            format!("{context} is optional, so it needs no backfill"),
                        )
                        .hint("existing rows keep null; remove `backfill`"),
                    );
                    None
                }
                // An unknown type is reported by the field itself.
                (Some(b), Some(scalar)) => {
                    // Read like a default; `autoincrement` is refused there for a field that is not the id.
                    let backfill = self.default(b, f, scalar, enums, &context, "backfill");
                    if let (Some(d), Some(kind)) = (&backfill, scalar.bound_kind()) {
                        self.check_default_in_bounds(d, b.loc, f, kind, &context, "backfill");
                    }
                    backfill.map(|d| Spanned::new(d, b.loc))
                }
                _ => None,
            };
            fields.insert(
                f.name.value.clone(),
                FieldHints {
                    loc: f.name.loc,
                    type_loc: f.ty.loc,
                    renamed_from: renamed_from.cloned(),
                    backfill,
                },
            );
        }
        fields
    }

    /// Checks a `renamedFrom:` of `name` among its siblings `names`: a valid name, not the current name of itself or
    /// of a sibling, and not claimed by another sibling (`previous`: old name -> who claimed it).
    fn previous_name(
        &mut self,
        from: &Spanned<String>,
        name: &str,
        names: &[&str],
        previous: &mut BTreeMap<String, String>,
        owner: &str,
    ) -> bool {
        let problem = if !is_identifier(&from.value) {
            Some(
                Diagnostic::new(
                    from.loc,
                    format!("`{}` is not a valid previous name", from.value),
                )
                .hint("write the name as the schema had it before the rename"),
            )
        } else if from.value == name {
            Some(
                Diagnostic::new(from.loc, format!("{owner} says it was renamed from itself"))
                    .hint("remove `renamedFrom`, or write the name it had before"),
            )
        } else if names.contains(&from.value.as_str()) {
            Some(
                Diagnostic::new(
                    from.loc,
                    format!(
                        "{owner} was renamed from `{}`, which is still in the schema",
                        from.value
                    ),
                )
                .hint(format!(
                    "rename or remove `{}` first, or write the name {owner} had before",
                    from.value
                )),
            )
        } else {
            previous.get(&from.value).map(|first| {
                Diagnostic::new(
                    from.loc,
                    format!(
                        "{owner} and {first} were both renamed from `{}`",
                        from.value
                    ),
                )
                .hint("only one of them can keep the old one's data; remove one `renamedFrom`")
            })
        };
        match problem {
            Some(d) => {
                self.problem(d);
                false
            }
            None => {
                previous.insert(from.value.clone(), owner.to_owned());
                true
            }
        }
    }
}
