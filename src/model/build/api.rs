//! The names of the API's schemas (the OpenAPI document's components): per model its record, inputs, filter, sort
//! key and list page; shared by every model, the error, the sort direction and one operator schema per operand type
//! and nullability (`StringFilter`, `NullableDateTimeFilter`, `<Enum>Filter`).
//!
//! Names the validator keeps unique (enums, and the six types of each model, which are the schema's own names) are
//! claimed first, then the ones it does not know about (`<Model>List`, `Error`, the operator schemas), each with a
//! fallback when a model or enum already uses it (the kitchen-sink schema has a model called `Error`), so every
//! name is unique. Models come sorted and operands are claimed in sorted order, so the fallbacks are the same on
//! every run.

use std::collections::{BTreeMap, BTreeSet};

use super::super::types::{FilterKind, Scalar};
use super::*;

/// Names the shared schemas and each model's schemas, and points each filterable field at its operator schema.
pub(super) fn api_names(enums: &[Enum], models: &mut [Model]) -> SharedApiNames {
    let mut taken: BTreeSet<String> = enums.iter().map(|e| e.name.clone()).collect();
    for m in models.iter() {
        let names = &m.api_names;
        for name in [
            &names.record,
            &names.create,
            &names.update,
            &names.patch,
            &names.filter,
            &names.order_by,
        ] {
            taken.insert(name.clone());
        }
    }
    for m in models.iter_mut() {
        m.api_names.list = claim(&mut taken, &[format!("{}List", m.name)]);
        m.api_names.with_relations = claim(&mut taken, &[format!("{}WithRelations", m.name)]);
    }
    let error = claim(&mut taken, &["Error".to_owned(), "ApiError".to_owned()]);
    // Each operand with the field that first uses it (models sorted, fields in schema order), which describes it.
    let mut operands: BTreeMap<Operand, (FilterKind, Scalar)> = BTreeMap::new();
    for f in models.iter().flat_map(|m| &m.fields) {
        if let Some((operand, kind)) = Operand::of(f) {
            operands.entry(operand).or_insert((kind, f.scalar));
        }
    }
    let mut names = BTreeMap::new();
    let filters: Vec<OperandFilter> = operands
        .into_iter()
        .map(|(o, (kind, scalar))| {
            let name = claim(&mut taken, &[o.candidate()]);
            names.insert(o.clone(), name.clone());
            OperandFilter {
                name,
                kind,
                scalar,
                type_name: o.label,
                nullable: o.nullable,
            }
        })
        .collect();
    for f in models.iter_mut().flat_map(|m| &mut m.fields) {
        f.api_filter = Operand::of(f).map(|(o, _)| names[&o].clone());
    }
    let sort_order = claim(&mut taken, &["SortOrder".to_owned()]);
    SharedApiNames {
        error,
        sort_order,
        filters,
    }
}

/// The names of a model's schemas before the list page's is claimed: the schema's names, which the validator keeps
/// unique.
pub(super) fn model_api_names(name: &str) -> ApiNames {
    ApiNames {
        record: name.to_owned(),
        create: format!("{name}Create"),
        update: format!("{name}Update"),
        patch: format!("{name}Patch"),
        filter: format!("{name}Filter"),
        order_by: format!("{name}OrderBy"),
        list: String::new(),
        with_relations: String::new(),
    }
}

/// What decides a field filter's operator schema: the operand's type (one label for the scalars with the same JSON
/// schema, or the enum's name) and whether the field is optional (`isNull`). Ordered by label first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Operand {
    label: String,
    is_enum: bool,
    nullable: bool,
}

impl Operand {
    fn of(f: &Field) -> Option<(Operand, FilterKind)> {
        f.filter_type.as_ref()?;
        let kind = FilterKind::for_scalar(f.scalar, f.optional)?;
        let label = match f.scalar {
            Scalar::String | Scalar::Text => "String",
            Scalar::Int => "Int",
            Scalar::BigInt => "BigInt",
            Scalar::Float => "Float",
            Scalar::Bool => "Bool",
            Scalar::Uuid => "Uuid",
            Scalar::DateTime => "DateTime",
            Scalar::Date => "Date",
            Scalar::Json => "Json",
            Scalar::Enum => f.type_name.as_str(),
        };
        let operand = Operand {
            label: label.to_owned(),
            is_enum: f.scalar == Scalar::Enum,
            nullable: f.optional,
        };
        Some((operand, kind))
    }

    fn candidate(&self) -> String {
        let nullable = if self.nullable { "Nullable" } else { "" };
        format!("{nullable}{}Filter", self.label)
    }
}

/// The first free candidate, or else the last one with the smallest free number appended.
fn claim(taken: &mut BTreeSet<String>, candidates: &[String]) -> String {
    let last = candidates.last().expect("at least one candidate");
    let name = candidates
        .iter()
        .find(|c| !taken.contains(*c))
        .cloned()
        .unwrap_or_else(|| {
            (2..)
                .map(|i| format!("{last}{i}"))
                .find(|c| !taken.contains(c))
                .expect("some number is free")
        });
    taken.insert(name.clone());
    name
}
