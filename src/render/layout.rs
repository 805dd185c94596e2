//! Template functions that lay out the Rust constructs whose line breaks depend on the schema's names, exactly as
//! prettyplease would (for the `PREFORMATTED` templates): prettyplease keeps a group on one line when the line,
//! up to the next place it could break, fits in 89 columns, and otherwise puts each element on a line of its own,
//! four columns further in. `tests/preformatted.rs` checks these rules against prettyplease for names of every
//! length.

use minijinja::{Error, Value};

/// prettyplease's margin.
const MARGIN: usize = 89;
/// Indentation of a struct field.
const FIELD_INDENT: usize = 4;

/// A named struct field, with its `#[serde(...)]` options if any (none when `serde` is empty), as prettyplease
/// prints it inside a struct: `field(["rename = \"dueAt\""], "pub due_at", "::std::option::Option<i32>")`. No
/// final newline.
pub fn field(serde: Vec<String>, declaration: String, ty: String) -> String {
    let mut out = String::new();
    let pad = " ".repeat(FIELD_INDENT);
    if !serde.is_empty() {
        let one_line = format!("{pad}#[serde({})]", serde.join(", "));
        if one_line.len() <= MARGIN {
            out.push_str(&one_line);
        } else {
            out.push_str(&pad);
            out.push_str("#[serde(\n");
            for (i, option) in serde.iter().enumerate() {
                out.push_str(&pad);
                out.push_str("    ");
                out.push_str(option);
                if i + 1 < serde.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad);
            out.push_str(")]");
        }
        out.push('\n');
    }
    let prefix = format!("{pad}{declaration}: ");
    layout_type(&mut out, &prefix, FIELD_INDENT, &ty, ",", true);
    out
}

/// A field of the schema in a model struct: its doc comment (the schema's description, else the field's
/// `summary`; none when `doc` is false), its `#[serde(...)]` (the
/// schema's name when Rust had to rename the field, then `serde`), and `pub <name>: <ty>`, laid out by `field`.
pub fn model_field(
    f: Value,
    ty: String,
    serde: Option<Vec<String>>,
    doc: Option<bool>,
) -> Result<String, Error> {
    let text = |key: &str| -> Result<Option<String>, Error> {
        let value = f.get_attr(key)?;
        Ok(value.as_str().map(str::to_owned))
    };
    let mut options = Vec::new();
    if f.get_attr("renamed")?.is_true() {
        let name = text("name")?.unwrap_or_default();
        options.push(format!("rename = {}", super::rust_str(&name)));
    }
    options.extend(serde.unwrap_or_default());
    let name = text("rust_name")?.unwrap_or_default();
    let declared = field(options, format!("pub {name}"), ty);
    match text("doc")?.or(text("summary")?) {
        Some(comment) if doc.unwrap_or(true) => {
            let mut out = String::new();
            for line in super::doc_comment(&comment, None).lines() {
                out.push_str(&" ".repeat(FIELD_INDENT));
                out.push_str(line);
                out.push('\n');
            }
            out.push_str(&declared);
            Ok(out)
        }
        _ => Ok(declared),
    }
}

/// An array of `items` between `open` (which ends with `[`, after the statement's indentation) and `close`
/// (`]);`), as prettyplease prints it: on one line when that fits, else one item a line, each with a comma.
/// `array("        Vec::from([", ["a", "b"], "])")`. No final newline.
pub fn array(open: String, items: Vec<String>, close: String) -> String {
    let one_line = format!("{open}{}{close}", items.join(", "));
    if one_line.len() <= MARGIN {
        return one_line;
    }
    let indent = open.len() - open.trim_start().len();
    let mut out = open;
    out.push('\n');
    for item in &items {
        out.push_str(&" ".repeat(indent + 4));
        out.push_str(item);
        out.push_str(",\n");
    }
    out.push_str(&" ".repeat(indent));
    out.push_str(&close);
    out
}

/// Writes `prefix`, then `ty` followed by `suffix`, breaking the type's generic arguments (outermost first) when
/// the line is too long. `suffix_counts`: whether `suffix` is text on the line (a field's `,`) rather than the
/// comma prettyplease adds only where it breaks (after a last generic argument), which does not count towards the
/// width.
fn layout_type(
    out: &mut String,
    prefix: &str,
    indent: usize,
    ty: &str,
    suffix: &str,
    suffix_counts: bool,
) {
    let width = prefix.len() + ty.len() + if suffix_counts { suffix.len() } else { 0 };
    let split = (width > MARGIN).then(|| generic_arguments(ty)).flatten();
    let Some((head, arguments)) = split else {
        out.push_str(prefix);
        out.push_str(ty);
        out.push_str(suffix);
        return;
    };
    out.push_str(prefix);
    out.push_str(head);
    out.push_str("<\n");
    let inner = " ".repeat(indent + 4);
    let last = arguments.len() - 1;
    for (i, argument) in arguments.iter().enumerate() {
        layout_type(out, &inner, indent + 4, argument, ",", i != last);
        out.push('\n');
    }
    out.push_str(&" ".repeat(indent));
    out.push('>');
    out.push_str(suffix);
}

/// `a::B<C, D<E>>` -> (`a::B`, [`C`, `D<E>`]); `None` without generic arguments.
fn generic_arguments(ty: &str) -> Option<(&str, Vec<&str>)> {
    let open = ty.find('<')?;
    let inside = ty[open + 1..].strip_suffix('>')?;
    let mut arguments = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in inside.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth = depth.checked_sub(1)?,
            ',' if depth == 0 => {
                arguments.push(inside[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    arguments.push(inside[start..].trim());
    Some((&ty[..open], arguments))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_break_only_when_they_do_not_fit() {
        let open = || "    Vec::from([".to_owned();
        let close = || "])".to_owned();
        assert_eq!(
            array(open(), vec!["a".into(), "b".into()], close()),
            "    Vec::from([a, b])"
        );
        let long = "x".repeat(80);
        assert_eq!(
            array(open(), vec![long.clone(), "b".into()], close()),
            format!("    Vec::from([\n        {long},\n        b,\n    ])")
        );
    }

    #[test]
    fn splits_generic_arguments() {
        assert_eq!(generic_arguments("i32"), None);
        assert_eq!(
            generic_arguments("::a::B<C, ::d::E<F, G>>"),
            Some(("::a::B", vec!["C", "::d::E<F, G>"]))
        );
    }
}
