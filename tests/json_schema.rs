//! Keeps `schemas/ssot-schema.json`, the JSON Schema editors use to complete and check schema files, in step with
//! the reader: every level lists exactly the keys the reader accepts and rejects the others, and the built-in type
//! names it offers are exactly the generator's. Adding a key to the reader without adding it here fails.

use std::collections::BTreeSet;

use serde_json::Value;
use ssot_gen::model::types::SCALAR_NAMES;
use ssot_gen::schema::{ACCESS_KEYS, AUTH_KEYS, ENUM_KEYS, FIELD_KEYS, MODEL_KEYS, TOP_LEVEL_KEYS};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/ssot-schema.json");

fn json_schema() -> Value {
    let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| panic!("reading {PATH}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{PATH} is not valid JSON: {e}"))
}

/// The object schema at `pointer` (a JSON pointer into the document).
fn at<'v>(schema: &'v Value, pointer: &str) -> &'v Value {
    schema
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{PATH} has nothing at `{pointer}`"))
}

/// Asserts that the object schema at `pointer` lists exactly `keys` as properties and rejects any other key.
fn assert_keys(schema: &Value, pointer: &str, keys: &[&str]) {
    let object = at(schema, pointer);
    let listed: BTreeSet<&str> = object["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("`{pointer}` has no `properties`"))
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = keys.iter().copied().collect();
    let missing: Vec<&str> = expected.difference(&listed).copied().collect();
    let extra: Vec<&str> = listed.difference(&expected).copied().collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "`{pointer}` in {PATH} does not list the keys the reader accepts: missing {missing:?}, not accepted by the \
         reader {extra:?}"
    );
    assert_eq!(
        object["additionalProperties"],
        Value::Bool(false),
        "`{pointer}` must reject unknown keys"
    );
    for key in keys {
        let description = object["properties"][*key]["description"]
            .as_str()
            .unwrap_or("");
        assert!(
            !description.is_empty(),
            "`{pointer}/properties/{key}` has no description"
        );
    }
}

#[test]
fn top_level_keys_match_the_reader() {
    assert_keys(&json_schema(), "", TOP_LEVEL_KEYS);
}

#[test]
fn auth_keys_match_the_reader() {
    assert_keys(&json_schema(), "/properties/auth", AUTH_KEYS);
}

#[test]
fn model_keys_match_the_reader() {
    let schema = json_schema();
    assert_eq!(
        at(&schema, "/properties/models/additionalProperties/$ref"),
        "#/$defs/model"
    );
    assert_keys(&schema, "/$defs/model", MODEL_KEYS);
}

#[test]
fn access_keys_match_the_reader() {
    let schema = json_schema();
    assert_eq!(
        at(&schema, "/$defs/model/properties/access/$ref"),
        "#/$defs/access"
    );
    assert_keys(&schema, "/$defs/access", ACCESS_KEYS);
}

#[test]
fn field_keys_match_the_reader() {
    let schema = json_schema();
    assert_eq!(
        at(
            &schema,
            "/$defs/model/properties/fields/additionalProperties/$ref"
        ),
        "#/$defs/field"
    );
    assert_keys(&schema, "/$defs/fieldMapping", FIELD_KEYS);
}

#[test]
fn enum_keys_match_the_reader() {
    let schema = json_schema();
    assert_eq!(
        at(&schema, "/properties/enums/additionalProperties/$ref"),
        "#/$defs/enum"
    );
    assert_keys(&schema, "/$defs/enumMapping", ENUM_KEYS);
}

#[test]
fn scalar_type_names_match_the_generator() {
    let schema = json_schema();
    let offered: Vec<&str> = at(&schema, "/$defs/scalarType/oneOf")
        .as_array()
        .expect("`/$defs/scalarType/oneOf` is a list")
        .iter()
        .map(|choice| {
            choice["const"]
                .as_str()
                .expect("each scalar type is a `const` string")
        })
        .collect();
    assert_eq!(offered, SCALAR_NAMES, "built-in types offered by {PATH}");

    let optional: Vec<&str> = at(&schema, "/$defs/optionalScalarType/enum")
        .as_array()
        .expect("`/$defs/optionalScalarType/enum` is a list")
        .iter()
        .map(|name| name.as_str().expect("type names are strings"))
        .collect();
    let expected: Vec<String> = SCALAR_NAMES.iter().map(|name| format!("{name}?")).collect();
    assert_eq!(
        optional, expected,
        "optional built-in types offered by {PATH}"
    );
}

#[test]
fn file_is_pretty_printed() {
    let text = std::fs::read_to_string(PATH).expect("reading the JSON Schema");
    let pretty = serde_json::to_string_pretty(&json_schema()).expect("printing JSON") + "\n";
    assert!(
        text == pretty,
        "{PATH} is not formatted as serde_json's pretty printer writes it (2-space indent, trailing newline)"
    );
}
