//! Every validation error: its message, its hint and its position. Positions are computed from the text so the
//! tests say what they mean: "the error points at this word".

use ssot_gen::diagnostics::Diagnostic;
use ssot_gen::Error;

/// All problems `load` reports for `yaml`.
fn problems(yaml: &str) -> Vec<Diagnostic> {
    match ssot_gen::load("schema.yaml", yaml) {
        Err(Error::Schema(d)) => d.items,
        Err(other) => panic!("expected schema problems, got: {other}"),
        Ok(_) => panic!("expected schema problems, the schema was accepted:\n{yaml}"),
    }
}

/// 1-based line and column of the `nth` (0-based) occurrence of `needle`.
fn pos(yaml: &str, needle: &str, nth: usize) -> (usize, usize) {
    let offset = yaml
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("`{needle}` #{nth} not in schema"))
        .0;
    let before = &yaml[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Asserts that exactly one problem mentions `message`, at the position of `at`, with a hint containing `hint`.
fn expect(yaml: &str, message: &str, at: (&str, usize), hint: &str) {
    let all = problems(yaml);
    let matching: Vec<&Diagnostic> = all.iter().filter(|d| d.message.contains(message)).collect();
    assert_eq!(
        matching.len(),
        1,
        "expected one problem containing {message:?}, got: {all:#?}"
    );
    let d = matching[0];
    let (line, column) = pos(yaml, at.0, at.1);
    assert_eq!(
        (d.loc.line, d.loc.column),
        (line, column),
        "position of {message:?} (should point at `{}`)",
        at.0
    );
    let got_hint = d.hint.as_deref().unwrap_or("");
    assert!(
        got_hint.contains(hint),
        "hint of {message:?} is {got_hint:?}, expected it to contain {hint:?}"
    );
}

/// A valid base schema; tests append or replace parts of it.
const USER: &str = "  User:\n    fields:\n      id: { type: uuid, id: true, default: uuid }\n    access: { read: public }\n";

fn with_models(models: &str) -> String {
    format!("crate: t\nmodels:\n{USER}{models}")
}

#[test]
fn the_examples_are_valid() {
    for example in ["chat", "kitchen-sink", "starter"] {
        let path = format!(
            "{}/schemas/examples/{example}.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap();
        if let Err(e) = ssot_gen::load(&path, &text) {
            panic!("{e}");
        }
    }
}

#[test]
fn malformed_yaml() {
    let yaml = "crate: t\nmodels:\n  A: { fields: [ \n";
    let all = problems(yaml);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(all[0].message.starts_with("malformed YAML"), "{all:#?}");
    assert!(
        all[0].loc.line >= 3,
        "points into the broken flow mapping: {all:#?}"
    );
}

#[test]
fn empty_file() {
    expect(
        "",
        "the schema has no `crate` name",
        ("", 0),
        "crate: my-app",
    );
    expect("", "the schema has no `models`", ("", 0), "ssot-gen init");
}

#[test]
fn not_a_mapping() {
    let all = problems("- a\n- b\n");
    assert!(
        all[0].message.contains("must be a YAML mapping"),
        "{all:#?}"
    );
}

#[test]
fn missing_crate_and_models() {
    let all = problems("version: 0.1.0\n");
    let messages: Vec<&str> = all.iter().map(|d| d.message.as_str()).collect();
    assert!(
        messages.contains(&"the schema has no `crate` name"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"the schema has no `models`"),
        "{messages:?}"
    );
}

#[test]
fn duplicate_yaml_key() {
    let yaml =
        with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      id: string\n");
    expect(
        &yaml,
        "`id` is defined twice",
        ("id: string", 0),
        "the first definition is at line 9, column 7",
    );
}

#[test]
fn unknown_type_suggests() {
    let yaml = with_models(
        "  Room:\n    fields:\n      id: { type: int, id: true }\n      title: { type: strng }\n",
    );
    expect(
        &yaml,
        "unknown type `strng` for `Room.title`",
        ("strng", 0),
        "did you mean `string`?",
    );
}

#[test]
fn unknown_type_in_shorthand() {
    let yaml = with_models(
        "  Room:\n    fields:\n      id: { type: int, id: true }\n      at: datetme?\n",
    );
    expect(
        &yaml,
        "unknown type `datetme`",
        ("datetme", 0),
        "did you mean `datetime`?",
    );
}

#[test]
fn model_name_as_type_explains_references() {
    let yaml =
        with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      owner: User\n");
    expect(
        &yaml,
        "unknown type `User`",
        ("User\n", 0),
        "references: User",
    );
}

#[test]
fn unknown_keys_suggest() {
    let yaml = with_models("  Room:\n    feilds:\n      id: int\n");
    expect(
        &yaml,
        "unknown key `feilds` in model `Room`",
        ("feilds", 0),
        "did you mean `fields`?",
    );
    let yaml =
        with_models("  Room:\n    fields:\n      id: { type: int, id: true, uniqe: true }\n");
    expect(
        &yaml,
        "unknown key `uniqe`",
        ("uniqe", 0),
        "did you mean `unique`?",
    );
    let yaml = "crate: t\nmodel: {}\n";
    expect(
        yaml,
        "unknown key `model` in the schema",
        ("model", 0),
        "did you mean `models`?",
    );
}

#[test]
fn wrong_kinds_of_values() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: yes }\n");
    expect(
        &yaml,
        "`id` must be `true` or `false`, found `yes`",
        ("yes", 0),
        "write `true` or `false`",
    );
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      n: { type: int, max: lots }\n");
    expect(&yaml, "`max` must be a number", ("lots", 0), "number");
    let yaml = with_models("  Room:\n    fields: [id]\n");
    expect(
        &yaml,
        "`fields` of model `Room` must be a mapping",
        ("[id]", 0),
        "",
    );
}

#[test]
fn duplicate_names_after_case_conversion() {
    let yaml = with_models("  user:\n    fields:\n      id: { type: int, id: true }\n");
    expect(
        &yaml,
        "both become the Rust type `User`",
        ("user:", 0),
        "rename one of them",
    );
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      userId: int\n      user_id: int\n");
    expect(
        &yaml,
        "both become the Rust field `user_id`",
        ("user_id", 0),
        "rename one of them",
    );
}

#[test]
fn fields_colliding_only_as_variants() {
    // `x1` and `x_1` are different fields in Rust but both become the sort variant `X1`: one problem, not three.
    let yaml = with_models(
        "  Room:\n    fields:\n      id: { type: int, id: true }\n      x1: int\n      x_1: int\n",
    );
    let all = problems(&yaml);
    assert_eq!(all.len(), 1, "{all:#?}");
    expect(
        &yaml,
        "both become the Rust variant `X1`",
        ("x_1", 0),
        "rename",
    );
}

#[test]
fn model_colliding_with_generated_type() {
    let yaml = with_models("  UserCreate:\n    fields:\n      id: { type: int, id: true }\n");
    expect(
        &yaml,
        "the record type of model `UserCreate` and the create input of model `User`",
        ("UserCreate", 0),
        "rename",
    );
}

#[test]
fn enum_colliding_with_model() {
    let yaml = format!("crate: t\nenums:\n  User: [a, b]\nmodels:\n{USER}");
    expect(
        &yaml,
        "enum `User` both become the Rust type `User`",
        ("User:\n    fields", 0),
        "rename",
    );
}

#[test]
fn duplicate_enum_values_after_conversion() {
    let yaml = format!("crate: t\nenums:\n  State: [in-progress, in_progress]\nmodels:\n{USER}");
    expect(
        &yaml,
        "both become the variant `InProgress`",
        ("in_progress", 0),
        "rename",
    );
}

#[test]
fn missing_and_double_id() {
    let yaml = with_models("  Room:\n    fields:\n      title: string\n");
    expect(
        &yaml,
        "model `Room` has no id field",
        ("Room", 0),
        "id: true",
    );
    let yaml = with_models("  Room:\n    fields:\n      a: { type: int, id: true }\n      b: { type: int, id: true }\n");
    expect(
        &yaml,
        "model `Room` has more than one id field",
        ("b:", 0),
        "keep `id: true` on `a` only",
    );
}

#[test]
fn id_type_must_be_a_key() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: float, id: true }\n");
    expect(
        &yaml,
        "an id cannot have type `float`",
        ("float", 0),
        "uuid",
    );
}

#[test]
fn dangling_reference_suggests() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      ownerId: { type: uuid, references: Usr }\n");
    expect(
        &yaml,
        "`Room.ownerId` references unknown model `Usr`",
        ("Usr", 0),
        "did you mean `User`?",
    );
}

#[test]
fn reference_type_must_match_target_id() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      userId: { type: int, references: User }\n");
    expect(
        &yaml,
        "`Room.userId` has type `int` but `User.id` is `uuid`",
        ("int, references", 0),
        "write `type: uuid`",
    );
}

#[test]
fn invalid_defaults() {
    let model = |field: &str| {
        with_models(&format!(
            "  Room:\n    fields:\n      id: {{ type: int, id: true }}\n      {field}\n"
        ))
    };
    expect(
        &model("n: { type: int, default: abc }"),
        "invalid default `abc` for `Room.n` of type `int`",
        ("abc", 0),
        "whole number",
    );
    expect(
        &model("n: { type: int, default: 3000000000 }"),
        "invalid default `3000000000`",
        ("3000000000", 0),
        "bigint",
    );
    expect(
        &model("at: { type: datetime, default: tomorrow }"),
        "invalid default `tomorrow`",
        ("tomorrow", 0),
        "default: now",
    );
    expect(
        &model("ok: { type: bool, default: yes }"),
        "invalid default `yes`",
        ("yes", 0),
        "`true` or `false`",
    );
    expect(
        &model("u: { type: uuid, default: random }"),
        "invalid default `random`",
        ("random", 0),
        "default: uuid",
    );
    expect(
        &model("n: { type: int, default: autoincrement }"),
        "invalid default `autoincrement`",
        ("autoincrement", 0),
        "only for the id",
    );
    expect(
        &model("d: { type: date, default: 2024-13-01 }"),
        "invalid default `2024-13-01`",
        ("2024-13-01", 0),
        "2024-01-31",
    );
    expect(
        &model("s: { type: string, default: [a] }"),
        "a list or mapping needs a `json` field",
        ("[a]", 0),
        "single `string` value",
    );
    let yaml = format!(
        "crate: t\nenums:\n  State: [open, closed]\nmodels:\n{USER}  Room:\n    fields:\n      id: {{ type: int, id: true }}\n      s: {{ type: State, default: opne }}\n"
    );
    expect(
        &yaml,
        "invalid default `opne`",
        ("opne", 0),
        "did you mean `open`?",
    );
}

#[test]
fn unknown_access_rule_suggests() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n    access: { read: authenticted }\n");
    expect(
        &yaml,
        "unknown access rule `authenticted`",
        ("authenticted", 0),
        "did you mean `authenticated`?",
    );
    let yaml = with_models(
        "  Room:\n    fields:\n      id: { type: int, id: true }\n    access: { read: [editor] }\n",
    );
    expect(
        &yaml,
        "unknown access rule `editor`",
        ("editor", 0),
        "declared under `roles` (declared: admin)",
    );
}

#[test]
fn access_rules_that_cannot_apply() {
    let yaml = with_models(
        "  Room:\n    fields:\n      id: { type: int, id: true }\n    access: { update: owner }\n",
    );
    expect(
        &yaml,
        "`owner` is used but model `Room` has no owner field",
        ("owner }", 0),
        "owner: true",
    );
    let yaml = with_models(
        "  Room:\n    fields:\n      id: { type: int, id: true }\n    access: { update: self }\n",
    );
    expect(
        &yaml,
        "`self` only applies to the user model, not `Room`",
        ("self", 0),
        "owner",
    );
    let yaml = with_models(
        "  Room:\n    fields:\n      id: { type: int, id: true }\n      by: { type: uuid, references: User, owner: true }\n    access: { create: owner }\n",
    );
    expect(
        &yaml,
        "`owner` cannot create",
        ("owner }", 0),
        "authenticated",
    );
}

#[test]
fn owner_field_must_hold_a_user_id() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      by: { type: int, owner: true }\n");
    expect(
        &yaml,
        "owner `Room.by` has type `int`, which cannot hold a `User` id (`uuid`)",
        ("true }\n", 1),
        "type: uuid, references: User",
    );
    // Without a user model, any key type works but not, say, a bool.
    let yaml = "crate: t\nmodels:\n  Room:\n    fields:\n      id: { type: int, id: true }\n      by: { type: bool, owner: true }\n";
    expect(
        yaml,
        "owner `Room.by` has type `bool`, which cannot hold a user id",
        ("true }\n", 1),
        "token's subject",
    );
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      by: { type: uuid?, owner: true }\n");
    expect(
        &yaml,
        "owner `Room.by` cannot be optional",
        ("uuid?", 0),
        "token",
    );
}

#[test]
fn readonly_needs_a_default() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      at: { type: datetime, readonly: true }\n");
    expect(
        &yaml,
        "`Room.at` is readonly but has no default",
        ("at:", 0),
        "add a `default`",
    );
}

#[test]
fn bounds() {
    let model = |field: &str| {
        with_models(&format!(
            "  Room:\n    fields:\n      id: {{ type: int, id: true }}\n      {field}\n"
        ))
    };
    expect(
        &model("n: { type: int, min: 5, max: 1 }"),
        "`min` (5) is greater than `max` (1)",
        ("5", 0),
        "swap",
    );
    expect(
        &model("b: { type: bool, max: 1 }"),
        "`min`/`max` do not apply to `Room.b` of type `bool`",
        ("1 }", 0),
        "text length",
    );
    expect(
        &model("s: { type: string, max: 2.5 }"),
        "invalid bound `2.5`",
        ("2.5", 0),
        "whole number of characters",
    );
}

#[test]
fn reserved_and_invalid_names() {
    let yaml =
        with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      AND: string\n");
    expect(
        &yaml,
        "`AND` is reserved for filter combinators",
        ("AND", 0),
        "rename",
    );
    let yaml = with_models(
        "  Room:\n    fields:\n      id: { type: int, id: true }\n      my-field: string\n",
    );
    expect(
        &yaml,
        "`my-field` is not a valid field name",
        ("my-field", 0),
        "letters, digits",
    );
    let yaml = "crate: 'my app'\nmodels:\n  A:\n    fields:\n      id: { type: int, id: true }\n";
    expect(
        yaml,
        "`my app` is not a valid crate name",
        ("'my app'", 0),
        "chat-api",
    );
}

#[test]
fn plural_and_table_collisions() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n  Rooms:\n    plural: RoomList\n    table: rooms\n    fields:\n      id: { type: int, id: true }\n");
    expect(
        &yaml,
        "both become the table `rooms`",
        ("Rooms:", 0),
        "rename",
    );
}

#[test]
fn inverse_relation_collision() {
    let yaml = with_models(
        "  Room:\n    fields:\n      id: { type: int, id: true }\n      by: { type: uuid, references: User, inverse: id }\n",
    );
    expect(
        &yaml,
        "the reverse of `Room.by` would be `User.id`",
        ("by:", 0),
        "inverse: <name>",
    );
}

#[test]
fn unknown_user_model() {
    let yaml = format!("crate: t\nauth: {{ user: Acount }}\nmodels:\n{USER}");
    expect(&yaml, "unknown user model `Acount`", ("Acount", 0), "");
}

#[test]
fn every_problem_is_reported_at_once_in_order() {
    let yaml = "crate: t\nmodels:\n  A:\n    fields:\n      id: { type: strng, id: true }\n      b: { type: int, uniqe: true }\n    access: { read: evryone }\n";
    let all = problems(yaml);
    let messages: Vec<&str> = all.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        ["unknown key `uniqe` in field `b` of model `A`"],
        "shape problems are reported first, all of them"
    );
    let yaml = "crate: t\nmodels:\n  A:\n    fields:\n      id: { type: strng, id: true }\n    access: { read: evryone }\n  B:\n    fields:\n      x: int\n";
    let lines: Vec<usize> = problems(yaml).iter().map(|d| d.loc.line).collect();
    assert_eq!(
        lines,
        [5, 6, 7],
        "unknown type, unknown rule, missing id: all reported, sorted by position"
    );
}

#[test]
fn report_shows_file_line_column_source_and_hint() {
    let yaml = with_models(
        "  Room:\n    fields:\n      id: { type: int, id: true }\n      title: { type: strng }\n",
    );
    let Err(error) = ssot_gen::load("app/schema.yaml", &yaml) else {
        panic!("accepted")
    };
    let shown = error.to_string();
    let expected = "error: unknown type `strng` for `Room.title`\n  --> app/schema.yaml:10:22\n   |\n10 |       title: { type: strng }\n   |                      ^\n  = hint: did you mean `string`?\n\n1 error in app/schema.yaml";
    assert_eq!(shown, expected);
}

/// Whatever the input, `load` returns; it never panics. Mutates the examples byte by byte (deterministic LCG).
#[test]
fn never_panics_on_mutated_input() {
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/examples/kitchen-sink.yaml"
    ))
    .unwrap();
    let alphabet: &[u8] = b" :-{}[],?\n\t'\"#&*!|>abcIdx0119";
    let mut state: u64 = 0x5eed;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    for _ in 0..1500 {
        let mut bytes = base.clone().into_bytes();
        for _ in 0..1 + next(4) {
            let at = next(bytes.len());
            match next(3) {
                0 => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, alphabet[next(alphabet.len())]),
                _ => bytes[at] = alphabet[next(alphabet.len())],
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = ssot_gen::load("fuzz.yaml", &text)
            .map(|graph| ssot_gen::generate(&graph, &Default::default()));
    }
}

#[test]
fn model_without_fields_has_no_id() {
    let yaml = with_models("  Room:\n    fields: {}\n");
    expect(
        &yaml,
        "model `Room` has no id field",
        ("Room", 0),
        "id: true",
    );
}

#[test]
fn ids_must_be_settable_and_distinct() {
    let yaml =
        with_models("  Room:\n    fields:\n      id: { type: string, id: true, readonly: true }\n");
    expect(
        &yaml,
        "`Room.id` is readonly but has no default",
        ("id: { type: string", 0),
        "add a `default`",
    );
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true, default: 7 }\n");
    expect(
        &yaml,
        "has a fixed default, so every row would get the same id",
        ("7", 0),
        "autoincrement",
    );
}

#[test]
fn enum_values_need_a_letter_or_digit() {
    let yaml = format!("crate: t\nenums:\n  Sign: [plus, '-']\nmodels:\n{USER}");
    expect(
        &yaml,
        "`-` cannot be an enum value",
        ("'-'", 0),
        "letters or digits",
    );
}

#[test]
fn dates_and_versions_must_exist() {
    let model = |field: &str| {
        with_models(&format!(
            "  Room:\n    fields:\n      id: {{ type: int, id: true }}\n      {field}\n"
        ))
    };
    expect(
        &model("d: { type: date, default: 2023-02-29 }"),
        "invalid default `2023-02-29`",
        ("2023-02-29", 0),
        "2024-01-31",
    );
    assert!(
        ssot_gen::load("s", &model("d: { type: date, default: 2024-02-29 }")).is_ok(),
        "leap day"
    );
    for bad in ["01.2.3", "1.2", "1.2.3-", "1.2.3+", "1.2.x"] {
        let yaml = format!("crate: t\nversion: '{bad}'\nmodels:\n{USER}");
        expect(
            &yaml,
            &format!("`{bad}` is not a semantic version"),
            (&format!("'{bad}'"), 0),
            "version: 0.1.0",
        );
    }
    for good in ["0.1.0", "1.2.3-rc.1", "1.2.3+build.5", "10.20.30-alpha-1+x"] {
        assert!(
            ssot_gen::load(
                "s",
                &format!("crate: t\nversion: '{good}'\nmodels:\n{USER}")
            )
            .is_ok(),
            "{good}"
        );
    }
}

#[test]
fn defaults_must_satisfy_their_bounds() {
    let model = |field: &str| {
        with_models(&format!(
            "  Room:\n    fields:\n      id: {{ type: int, id: true }}\n      {field}\n"
        ))
    };
    expect(
        &model("s: { type: string, min: 5, default: abc }"),
        "the default of `Room.s` is outside its `min`/`max`",
        ("abc", 0),
        "its length",
    );
    expect(
        &model("n: { type: int, max: 10, default: 11 }"),
        "the default of `Room.n` is outside",
        ("11", 0),
        "within the bounds",
    );
    assert!(ssot_gen::load(
        "s",
        &model("n: { type: float, min: 0, max: 1, default: 0.5 }")
    )
    .is_ok());
}

#[test]
fn inverse_needs_a_reference() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      x: { type: int, inverse: rooms }\n");
    expect(
        &yaml,
        "`Room.x` has `inverse` but no `references`",
        ("rooms", 0),
        "add `references: <Model>`",
    );
}

#[test]
fn hints_are_complete_sentences() {
    let yaml = with_models(
        "  Room:\n    fields:\n      id: { type: int, id: true }\n    access: { update: self }\n",
    );
    expect(
        &yaml,
        "`self` only applies",
        ("self", 0),
        "set `auth: { user: Room }`",
    );
    let yaml = format!("crate: t\nroles: []\nmodels:\n{USER}  Room:\n    fields:\n      id: {{ type: int, id: true }}\n    access: {{ read: editor }}\n");
    expect(
        &yaml,
        "unknown access rule `editor`",
        ("editor", 0),
        "(declared: none)",
    );
}

#[test]
fn lower_case_model_names_get_pascal_case_plurals() {
    let graph = ssot_gen::load(
        "s",
        "crate: t\nmodels:\n  person:\n    fields:\n      id: { type: int, id: true }\n",
    )
    .unwrap();
    assert_eq!(graph.models[0].plural, "People");
    assert_eq!(graph.models[0].table, "people");
    let graph = ssot_gen::load("s", "crate: t\nmodels:\n  News:\n    plural: News\n    fields:\n      id: { type: int, id: true }\n").unwrap();
    assert_eq!(graph.models[0].table, "news");
}

#[test]
fn migration_hints() {
    let yaml = with_models(
        "  Post:\n    renamedFrom: User\n    fields:\n      id: { type: int, id: true, default: autoincrement, backfill: 1 }\n      title: { type: string, renamedFrom: 2nd }\n      body: { type: string, renamedFrom: body }\n      note: { type: string?, backfill: x }\n      views: { type: int, backfill: many, renamedFrom: hits }\n      stars: { type: int, max: 5, backfill: 6, renamedFrom: hits }\n      at: { type: datetime, backfill: now }\n      key: { type: uuid, backfill: uuid }\n",
    );
    expect(
        &yaml,
        "model `Post` was renamed from `User`, which is still in the schema",
        ("User\n    fields", 0),
        "rename or remove `User` first",
    );
    expect(
        &yaml,
        "the id `Post.id` cannot have a backfill",
        ("1 }", 0),
        "add a new model instead",
    );
    expect(
        &yaml,
        "`2nd` is not a valid previous name",
        ("2nd", 0),
        "before the rename",
    );
    expect(
        &yaml,
        "field `Post.body` says it was renamed from itself",
        ("body }", 0),
        "remove `renamedFrom`",
    );
    expect(
        &yaml,
        "`Post.note` is optional, so it needs no backfill",
        ("x }", 0),
        "existing rows keep null",
    );
    expect(
        &yaml,
        "invalid backfill `many` for `Post.views` of type `int`",
        ("many", 0),
        "whole number",
    );
    expect(
        &yaml,
        "the backfill of `Post.stars` is outside its `min`/`max`",
        ("6,", 0),
        "choose a backfill",
    );
    expect(
        &yaml,
        "field `Post.stars` and field `Post.views` were both renamed from `hits`",
        ("hits", 1),
        "remove one `renamedFrom`",
    );
    assert_eq!(problems(&yaml).len(), 8, "{:#?}", problems(&yaml));
}

#[test]
fn on_delete_needs_a_reference() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      x: { type: int, onDelete: cascade }\n");
    expect(
        &yaml,
        "has `onDelete` but no `references`",
        ("cascade", 0),
        "add `references: <Model>`",
    );
}

#[test]
fn on_delete_unknown_rule() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      by: { type: uuid, references: User, onDelete: cascad }\n");
    expect(
        &yaml,
        "`cascad` is not an `onDelete` rule",
        ("cascad", 0),
        "cascade",
    );
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      by: { type: uuid, references: User, onDelete: nothing }\n");
    expect(
        &yaml,
        "`nothing` is not an `onDelete` rule",
        ("nothing", 0),
        "`restrict`, `cascade`, `setNull`",
    );
}

#[test]
fn on_delete_set_null_needs_an_optional_reference() {
    let yaml = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      by: { type: uuid, references: User, onDelete: setNull }\n");
    expect(
        &yaml,
        "is required, so `onDelete: setNull` could not clear it",
        ("setNull", 0),
        "make it optional (`type: uuid?`)",
    );
    // Optional, it is fine; so are cascades in a loop (a model that cascades to itself).
    let fine = with_models("  Room:\n    fields:\n      id: { type: int, id: true }\n      by: { type: uuid?, references: User, onDelete: setNull }\n      parentId: { type: int?, references: Room, onDelete: cascade }\n    access: { read: public }\n");
    ssot_gen::load("schema.yaml", &fine).expect("setNull on an optional reference, a self-cascade");
}
