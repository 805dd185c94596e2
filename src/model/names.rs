//! Every naming decision in one place: Rust identifiers (keyword-safe), SQL identifiers, plurals. Templates print
//! these names; they never derive names themselves.

use heck::{ToKebabCase, ToPascalCase, ToSnakeCase};

/// Rust keywords (strict and reserved, all editions). Such names become raw identifiers (`r#type`) unless raw
/// identifiers cannot express them (`self`, `Self`, `super`, `crate`, `_`), which get a trailing underscore.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// The one function that turns a word into a usable Rust identifier: keywords become raw identifiers or get a
/// trailing `_`, and a leading digit gets a prefix.
pub fn sanitize(ident: &str) -> String {
    let ident = if ident.is_empty() {
        "_empty".to_owned()
    } else {
        ident.to_owned()
    };
    let ident = if ident.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{ident}")
    } else {
        ident
    };
    if NOT_RAW.contains(&ident.as_str()) {
        format!("{ident}_")
    } else if KEYWORDS.contains(&ident.as_str()) {
        format!("r#{ident}")
    } else {
        ident
    }
}

/// A Rust type or variant name: PascalCase, sanitized. Non-alphanumeric characters separate words.
pub fn type_name(name: &str) -> String {
    let pascal = name.to_pascal_case();
    // `V` keeps a digit-led enum value (`2fa`) a valid type-level name without clashing with `_`-led ones.
    let pascal = if pascal.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{pascal}")
    } else {
        pascal
    };
    sanitize(&pascal)
}

/// A Rust field, function or module name: snake_case, sanitized.
pub fn value_name(name: &str) -> String {
    sanitize(&name.to_snake_case())
}

/// A module's file stem: the identifier without the `r#` prefix (`mod r#type;` lives in `type.rs`).
pub fn file_stem(module: &str) -> String {
    module.trim_start_matches("r#").to_owned()
}

/// A SQL identifier in snake_case, always quoted in output so that SQL keywords (`order`, `user`) are safe.
pub fn sql_name(name: &str) -> String {
    name.to_snake_case()
}

/// Quotes a SQL identifier for both SQLite and PostgreSQL.
pub fn quote_sql(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A URL path segment: kebab-case.
pub fn path_segment(name: &str) -> String {
    name.to_kebab_case()
}

/// English plural of a PascalCase model name, pluralising its last word: `ChatRoom` -> `ChatRooms`,
/// `Category` -> `Categories`, `Person` -> `People`. The one pluralisation rule: routes, tables and clients all use it.
pub fn pluralize(name: &str) -> String {
    let split = name
        .char_indices()
        .rev()
        .find(|(i, c)| *i > 0 && c.is_uppercase())
        .map(|(i, _)| i)
        .unwrap_or(0);
    let (head, last) = name.split_at(split);
    format!("{head}{}", pluralize_word(last))
}

fn pluralize_word(word: &str) -> String {
    const IRREGULAR: &[(&str, &str)] = &[
        ("person", "people"),
        ("child", "children"),
        ("man", "men"),
        ("woman", "women"),
        ("mouse", "mice"),
        ("goose", "geese"),
        ("foot", "feet"),
        ("tooth", "teeth"),
        ("ox", "oxen"),
        ("datum", "data"),
        ("index", "indices"),
        ("matrix", "matrices"),
        ("vertex", "vertices"),
        ("criterion", "criteria"),
        ("analysis", "analyses"),
        ("status", "statuses"),
        ("quiz", "quizzes"),
    ];
    const UNCOUNTABLE: &[&str] = &[
        "data",
        "equipment",
        "information",
        "media",
        "metadata",
        "news",
        "series",
        "species",
        "sheep",
        "fish",
    ];
    let lower = word.to_lowercase();
    if UNCOUNTABLE.contains(&lower.as_str()) {
        return word.to_owned();
    }
    if let Some((_, plural)) = IRREGULAR.iter().find(|(singular, _)| *singular == lower) {
        return keep_case(word, plural);
    }
    let ends_consonant_y = lower.ends_with('y')
        && !lower.ends_with("ay")
        && !lower.ends_with("ey")
        && !lower.ends_with("iy")
        && !lower.ends_with("oy")
        && !lower.ends_with("uy");
    if ends_consonant_y {
        format!("{}ies", &word[..word.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|end| lower.ends_with(end))
    {
        format!("{word}es")
    } else if lower.ends_with("fe") {
        format!("{}ves", &word[..word.len() - 2])
    } else if lower.ends_with("lf") || lower.ends_with("af") {
        format!("{}ves", &word[..word.len() - 1])
    } else {
        format!("{word}s")
    }
}

/// Applies the capitalisation of `original`'s first letter to `plural`.
fn keep_case(original: &str, plural: &str) -> String {
    if original.starts_with(char::is_uppercase) {
        let mut chars = plural.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    } else {
        plural.to_owned()
    }
}

/// Returns `base` if it is not taken, else `base_`, `base__`, ...: used where the generator adds its own members
/// beside the user's (a filter's `and`/`or`/`not` beside fields of those names).
pub fn unique_name(base: &str, taken: &[String]) -> String {
    let mut name = sanitize(base);
    while taken.contains(&name) {
        name = format!("{}_", name.trim_start_matches("r#"));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keywords_and_digits() {
        assert_eq!(sanitize("type"), "r#type");
        assert_eq!(sanitize("match"), "r#match");
        assert_eq!(sanitize("async"), "r#async");
        assert_eq!(sanitize("self"), "self_");
        assert_eq!(sanitize("Self"), "Self_");
        assert_eq!(sanitize("crate"), "crate_");
        assert_eq!(sanitize("1st"), "_1st");
        assert_eq!(sanitize("name"), "name");
    }

    #[test]
    fn type_and_value_names() {
        assert_eq!(type_name("chat_room"), "ChatRoom");
        assert_eq!(type_name("in-progress"), "InProgress");
        assert_eq!(type_name("2fa"), "V2fa");
        assert_eq!(type_name("self"), "Self_");
        assert_eq!(value_name("passwordHash"), "password_hash");
        assert_eq!(value_name("type"), "r#type");
        assert_eq!(value_name("ref"), "r#ref");
        assert_eq!(file_stem("r#type"), "type");
    }

    #[test]
    fn plurals() {
        for (one, many) in [
            ("Message", "Messages"),
            ("ChatRoom", "ChatRooms"),
            ("Category", "Categories"),
            ("Day", "Days"),
            ("Person", "People"),
            ("SalesPerson", "SalesPeople"),
            ("Box", "Boxes"),
            ("Match", "Matches"),
            ("Wish", "Wishes"),
            ("Status", "Statuses"),
            ("Knife", "Knives"),
            ("Half", "Halves"),
            ("News", "News"),
            ("User", "Users"),
            ("Index", "Indices"),
            ("Address", "Addresses"),
        ] {
            assert_eq!(pluralize(one), many, "plural of {one}");
        }
    }

    #[test]
    fn sql_and_paths() {
        assert_eq!(sql_name("ChatRooms"), "chat_rooms");
        assert_eq!(sql_name("authorId"), "author_id");
        assert_eq!(quote_sql("order"), "\"order\"");
        assert_eq!(path_segment("ChatRooms"), "chat-rooms");
    }

    #[test]
    fn unique_names_avoid_taken() {
        let taken = vec!["and".to_owned(), "and_".to_owned()];
        assert_eq!(unique_name("and", &taken), "and__");
        assert_eq!(unique_name("or", &taken), "or");
        assert_eq!(unique_name("not", &["r#not".to_owned()]), "not");
    }
}
