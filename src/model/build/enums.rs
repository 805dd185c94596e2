//! The schema's enums: names, values and the Rust variants they become.

use super::super::names::type_name;
use super::super::types::Scalar;
use super::*;

impl Builder {
    pub(super) fn enums(&mut self, schema: &Schema) -> BTreeMap<String, Enum> {
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
}
