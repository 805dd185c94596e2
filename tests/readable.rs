//! The generated Rust reads like hand-written Rust: no macro body printed as a flat run of tokens (what
//! prettyplease does to the inside of a macro it does not know: `tokio :: select ! { ... }`, `x . await`,
//! `& mut`), and one statement per line. Checked on every `.rs` file generated from every committed schema.

mod common;

/// A line's code with the contents of its string literals and its `//` comment removed, so that text such as
/// `"a; b"` or `// a :: b` is not mistaken for code.
fn code_of(line: &str) -> String {
    let mut code = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_string = false;
                    code.push('"');
                }
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                code.push('"');
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => code.push(c),
        }
    }
    code
}

/// What is wrong with a line, if anything.
fn problem(line: &str) -> Option<&'static str> {
    let code = code_of(line);
    for (pattern, what) in [
        (" :: ", "a path printed as tokens (`a :: b`)"),
        (" . ", "a method call or field printed as tokens (`x . y`)"),
        ("& mut ", "a borrow printed as tokens (`& mut x`)"),
        (" ! (", "a macro call printed as tokens (`m ! (`)"),
        (" ! {", "a macro call printed as tokens (`m ! {`)"),
        (" ! [", "a macro call printed as tokens (`m ! [`)"),
    ] {
        if code.contains(pattern) {
            return Some(what);
        }
    }
    // A second statement after `;` on the same line, except inside brackets (`[0u8; 16]`).
    let mut depth = 0i32;
    let bytes = code.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' => depth -= 1,
            b';' if depth == 0 && bytes[i + 1..].iter().any(|b| !b.is_ascii_whitespace()) => {
                let rest = code[i + 1..].trim_start();
                // `};` and `)` closers that follow are layout, not statements.
                if !rest.starts_with('}') && !rest.starts_with(')') {
                    return Some("more than one statement on one line");
                }
            }
            _ => {}
        }
    }
    None
}

#[test]
fn the_detector_finds_flattened_code() {
    assert!(problem("tokio :: select ! { a = b . recv () => {} }").is_some());
    assert!(problem("let x = y . await ;").is_some());
    assert!(problem("f(& mut x);").is_some());
    assert!(problem("let a = 1; let b = 2;").is_some());
    assert!(problem("let buffer = [0u8; 16];").is_none());
    assert!(problem("const P: &str = \"a; b :: c\"; // x :: y").is_none());
    assert!(problem("    foo(&mut x).await?;").is_none());
}

#[test]
fn generated_rust_has_no_flattened_macro_bodies_and_one_statement_per_line() {
    let mut problems = Vec::new();
    for (name, path) in common::all_schemas() {
        let generated = common::generate_path(&path);
        for (file, contents) in generated.files.iter().chain(&generated.user_files) {
            if !file.ends_with(".rs") {
                continue;
            }
            for (number, line) in contents.lines().enumerate() {
                if let Some(what) = problem(line) {
                    problems.push(format!("{name}/{file}:{}: {what}: {line}", number + 1));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
