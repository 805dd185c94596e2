//! Fields: type, default, bounds, checks against other models, and how the field appears in each input and
//! filter.

use serde_json::Value;

use super::super::formats::{is_date, is_uuid};
use super::super::names::{quote_sql, sql_name, type_name, value_name};
use super::super::types::{BoundKind, FilterKind, Scalar, SCALAR_NAMES};
use super::*;
use crate::diagnostics::did_you_mean;
use crate::schema::{DefaultSpec, Spanned};

/// Wire names of the filter combinators; a field may not use them.
const FILTER_COMBINATORS: &[&str] = &["AND", "OR", "NOT"];

impl Builder {
    pub(super) fn field(
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
            .and_then(|d| self.default(d, f, scalar, enums, &context, "default"));
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
            self.check_default_in_bounds(d, spec.loc, f, bounds.kind, &context, "default");
        }
        match (&f.references, &f.inverse) {
            (Some(target), _) => self.check_reference(f, target, scalar, infos, &context),
            (None, Some(inverse)) => self.problem(
                Diagnostic::new(inverse.loc, format!("{context} has `inverse` but no `references`"))
                    .hint("`inverse` names the reverse side of a reference; add `references: <Model>` or remove it"),
            ),
            (None, None) => {}
        }
        if let (None, Some(on_delete)) = (&f.references, &f.on_delete) {
            self.problem(
                Diagnostic::new(on_delete.loc, format!("{context} has `onDelete` but no `references`"))
                    .hint("`onDelete` says what deleting the referenced row does to this one; add `references: <Model>` or remove it"),
            );
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
        let filter_kind = (!f.hidden)
            .then(|| FilterKind::for_scalar(scalar, f.optional))
            .flatten();
        let filter_type = filter_kind.map(|kind| {
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
            wire: scalar.wire_module().map(str::to_owned),
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
            filter_kind,
            api_filter: None, // named once every model is built (`api::api_names`)
            orderable: !f.hidden && scalar.is_ordered(),
            notes: String::new(),
            summary: String::new(),
            column_sql: quote_sql(&sql_name(name)),
            insert,
        };
        field.notes = super::describe::field_notes(&field);
        field.summary = super::describe::field_summary(&field);
        Some(field)
    }

    /// A literal default (or backfill: `key`) must satisfy the field's own `min`/`max`, or every row that gets it
    /// breaks its CHECK.
    pub(super) fn check_default_in_bounds(
        &mut self,
        d: &DefaultValue,
        loc: Loc,
        f: &FieldSpec,
        kind: BoundKind,
        context: &str,
        key: &str,
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
                    format!("the {key} of {context} is outside its `min`/`max`"),
                )
                .hint(format!(
                    "choose a {key} whose {what} is within the bounds, or change the bounds"
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
        if let Some(on_delete) = &f.on_delete {
            self.check_on_delete(f, on_delete, context);
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

    fn check_on_delete(&mut self, f: &FieldSpec, on_delete: &Spanned<String>, context: &str) {
        match OnDelete::parse(&on_delete.value) {
            None => {
                let hint = did_you_mean(&on_delete.value, OnDelete::NAMES).unwrap_or_else(|| {
                    format!(
                        "use one of {}",
                        OnDelete::NAMES.map(|n| format!("`{n}`")).join(", ")
                    )
                });
                self.problem(
                    Diagnostic::new(
                        on_delete.loc,
                        format!(
                            "`{}` is not an `onDelete` rule of {context}",
                            on_delete.value
                        ),
                    )
                    .hint(hint),
                );
            }
            Some(OnDelete::SetNull) if !f.optional => self.problem(
                Diagnostic::new(
                    on_delete.loc,
                    format!("{context} is required, so `onDelete: setNull` could not clear it"),
                )
                .hint(format!(
                    "make it optional (`type: {}?`), or use `cascade` or `restrict`",
                    f.ty.value
                )),
            ),
            Some(_) => {}
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

    /// A `default:` (or `backfill:`, read the same way: `key` names it in messages) for a field of type `scalar`.
    pub(super) fn default(
        &mut self,
        d: &Spanned<DefaultSpec>,
        f: &FieldSpec,
        scalar: Scalar,
        enums: &BTreeMap<String, Enum>,
        context: &str,
        key: &str,
    ) -> Option<DefaultValue> {
        let keyword = |kind| Some(DefaultValue { kind, value: None });
        let literal = |value: Value| {
            Some(DefaultValue {
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
                            "invalid {key} for {context}: a list or mapping needs a `json` field"
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
                        "invalid {key} `{raw}` for {context} of type `{}`",
                        f.ty.value
                    ),
                )
                .hint(expected.to_owned()),
            );
            None
        };
        match scalar {
            Scalar::DateTime if raw == "now" => keyword(DefaultKind::Now),
            Scalar::DateTime => invalid(self, &format!("use `{key}: now`, or no {key}")),
            Scalar::Date if raw == "now" => keyword(DefaultKind::Now),
            Scalar::Date if is_date(raw) => literal(Value::String(raw.to_owned())),
            Scalar::Date => invalid(self, "use `now` or a date such as `2024-01-31`"),
            Scalar::Uuid if raw == "uuid" => keyword(DefaultKind::Uuid),
            Scalar::Uuid if is_uuid(raw) => literal(Value::String(raw.to_ascii_lowercase())),
            Scalar::Uuid => invalid(self, &format!("use `{key}: uuid` to generate one")),
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
