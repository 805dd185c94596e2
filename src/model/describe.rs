//! Plain-language descriptions of graph items, for generated documentation.

use super::types::BoundKind;
use super::{DefaultKind, Field};

/// The doc comment of a field the schema does not describe: `` `email`: string; unique, at most 254 characters. ``
/// (`optional text` for an optional field).
pub fn field_summary(f: &Field) -> String {
    let optional = if f.optional { "optional " } else { "" };
    if f.notes.is_empty() {
        format!("`{}`: {optional}{}.", f.name, f.type_name)
    } else {
        format!("`{}`: {optional}{}; {}.", f.name, f.type_name, f.notes)
    }
}

/// What a reader of the generated README needs to know about a field beyond its type, e.g.
/// `unique, at most 254 characters`.
pub fn field_notes(f: &Field) -> String {
    let mut notes = Vec::new();
    if f.id {
        notes.push("id".to_owned());
    } else if f.unique {
        notes.push("unique".to_owned());
    }
    if f.owner {
        notes.push("owner (set from the caller's token)".to_owned());
    }
    if f.readonly {
        notes.push("read-only".to_owned());
    }
    if f.hidden {
        notes.push("write-only, never returned".to_owned());
    }
    if let Some(target) = &f.references {
        notes.push(format!("references `{target}`"));
    }
    if let Some(d) = &f.default {
        notes.push(match (d.kind, &d.value) {
            (DefaultKind::Literal, Some(v)) => format!("default `{v}`"),
            (DefaultKind::Now, _) => "default: now".to_owned(),
            (DefaultKind::Uuid, _) => "default: new uuid".to_owned(),
            (DefaultKind::Autoincrement, _) | (DefaultKind::Literal, None) => {
                "default: next number".to_owned()
            }
        });
    }
    if let Some(b) = &f.bounds {
        let unit = if b.kind == BoundKind::Length {
            " characters"
        } else {
            ""
        };
        notes.push(match (&b.min, &b.max) {
            (Some(min), Some(max)) => format!("{min} to {max}{unit}"),
            (Some(min), None) => format!("at least {min}{unit}"),
            (None, Some(max)) => format!("at most {max}{unit}"),
            (None, None) => String::new(),
        });
    }
    notes.join(", ")
}
