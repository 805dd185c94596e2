//! Migration names: the one given with `--name`, tidied, or one derived from what the migration does
//! (`add_message_pinned`, `rename_user_name_to_display_name`, `alter_room`).

use heck::ToSnakeCase;

use super::diff::Diff;

/// Longest name written: file names stay readable in a listing.
const MAX_LEN: usize = 60;

/// A name given by the user as a file name part: lowercase letters, digits and `_`; `None` when nothing is left.
pub fn tidy(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = shorten(out.trim_end_matches('_'));
    (!out.is_empty()).then_some(out)
}

/// At most `MAX_LEN` bytes, cut at a `_` where possible.
fn shorten(name: &str) -> String {
    if name.len() <= MAX_LEN {
        return name.to_owned();
    }
    let cut = &name[..MAX_LEN];
    cut.rfind('_')
        .map_or(cut, |i| &cut[..i])
        .trim_end_matches('_')
        .to_owned()
}

/// A name that says what the migration does.
pub fn derive(diff: &Diff) -> String {
    let snake = |s: &str| s.to_snake_case();
    let name = match (
        diff.created.as_slice(),
        diff.dropped.as_slice(),
        diff.altered.as_slice(),
    ) {
        ([t], [], []) => format!("add_{}", snake(&t.model)),
        ([], [t], []) => format!("drop_{}", snake(&t.model)),
        ([], [], [t]) => {
            let model = snake(&t.new.model);
            let changed: Vec<_> = t
                .kept
                .iter()
                .filter(|c| c.changed() || c.renamed() || c.old.field != c.new.field)
                .collect();
            match (t.added.as_slice(), t.dropped.as_slice(), changed.as_slice()) {
                ([], [], []) if t.old.model == t.new.model => {
                    format!("rename_{}_to_{}", t.old.table, t.new.table)
                }
                ([], [], []) => format!("rename_{}_to_{model}", snake(&t.old.model)),
                ([a], [], []) if !t.renamed() => format!("add_{model}_{}", snake(&a.column.field)),
                ([], [d], []) if !t.renamed() => format!("drop_{model}_{}", snake(&d.field)),
                ([], [], [c]) if !t.renamed() && !c.changed() => format!(
                    "rename_{model}_{}_to_{}",
                    snake(&c.old.field),
                    snake(&c.new.field)
                ),
                ([], [], [c]) if !t.renamed() => format!("alter_{model}_{}", snake(&c.new.field)),
                _ => format!("alter_{model}"),
            }
        }
        (created, dropped, altered) => {
            let verb = match (created.is_empty(), dropped.is_empty(), altered.is_empty()) {
                (false, true, true) => "add",
                (true, false, true) => "drop",
                _ => "alter",
            };
            let mut models: Vec<String> = created
                .iter()
                .chain(dropped)
                .map(|t| snake(&t.model))
                .chain(altered.iter().map(|t| snake(&t.new.model)))
                .collect();
            models.sort();
            models.dedup();
            if models.len() <= 3 {
                format!("{verb}_{}", models.join("_"))
            } else {
                format!("{verb}_{}_models", models.len())
            }
        }
    };
    shorten(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_names_are_tidied() {
        assert_eq!(tidy("Add pinned flag!").as_deref(), Some("add_pinned_flag"));
        assert_eq!(tidy("--x--y--").as_deref(), Some("x_y"));
        assert_eq!(tidy("!!!"), None);
        let long = tidy(&"word_".repeat(20)).unwrap();
        assert!(long.len() <= MAX_LEN && long.ends_with("word"), "{long}");
    }
}
